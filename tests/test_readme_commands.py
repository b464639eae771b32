"""Every shell command the README and deploy/README.md show is run here, in order, as a reader
would type it: in a fresh repository holding this one's ``policy/``, ``schemas/`` and
``deploy/``, with a local bare repository as ``origin``, through bash, with ``policyctl`` on
PATH.

What cannot run on a test machine has a stand-in, each named in its scenario with why: a cluster
(``kubectl apply`` validates the manifests with kubernetes-validate's bundled schemas instead),
GitHub (``pip install`` resolves from a local bare repository, ``--dry-run``), the fleet's pod
addresses (real ``policyctl serve`` replicas on loopback), and ``make`` (this suite runs inside
``make test``: the quick start is checked with ``make -n``). A new shell block in either README
without a scenario fails `test_every_block_has_a_scenario`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .support.git import GIT_ENV, git

ROOT = Path(__file__).parents[1]
READMES = (ROOT / "README.md", ROOT / "deploy" / "README.md")
BIN = Path(sys.executable).parent

# Real processes, real git, a pip resolution: seconds each.
pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Block:
    readme: str
    line: int
    commands: tuple[str, ...]  # logical lines: continuations joined, comments kept


def _blocks() -> list[Block]:
    found = []
    for readme in READMES:
        text = readme.read_text()
        for match in re.finditer(r"^```sh\n(.*?)^```", text, re.S | re.M):
            joined = match.group(1).replace("\\\n", " ")
            commands = tuple(line for line in joined.splitlines() if line.strip())
            line = text.count("\n", 0, match.start()) + 1
            found.append(Block(readme.relative_to(ROOT).as_posix(), line, commands))
    return found


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Sandbox:
    """A reader's checkout: ``work`` is a clone of ``origin`` (a bare repository)."""

    root: Path
    work: Path
    origin: Path
    env: dict[str, str]
    ran: list[str] = field(default_factory=list)
    servers: list[subprocess.Popen[str]] = field(default_factory=list)

    def run(self, command: str, *, as_typed: str | None = None, prepares: bool = False) -> str:
        """Run ``command`` (the README's ``as_typed``, with a stand-in substituted) in bash;
        one that ``prepares`` what the block takes as given is not one of the block's."""
        if not prepares:
            self.ran.append(as_typed or command)
        result = subprocess.run(
            ["bash", "-c", command],
            cwd=self.work,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert result.returncode == 0, (command, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr, (command, result.stderr)
        return result.stdout

    def serve(self, policy: str = "policy/policy.yaml", *extra: str) -> str:
        """A real `policyctl serve` replica (of the checkout's policy), on a free port."""
        port = _port()
        argv = [str(BIN / "policyctl"), "serve", policy, "--port", str(port), *extra]
        proc = subprocess.Popen(
            argv,
            cwd=self.work,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.servers.append(proc)
        assert proc.stdout is not None and "serving http://" in proc.stdout.readline()
        return f"http://127.0.0.1:{port}"

    def stand_in(self, name: str, script: str) -> None:
        """A program on PATH in front of the real one (its path is in $REAL)."""
        path = self.root / "stand-ins" / name
        path.write_text(f"#!/bin/bash\nREAL={shutil.which(name) or 'false'}\n{script}")
        path.chmod(0o755)


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Sandbox]:
    seed = tmp_path / "seed"
    seed.mkdir()
    for directory in ("policy", "schemas", "deploy"):
        shutil.copytree(ROOT / directory, seed / directory)
    git(seed, "init", "-q", "-b", "main")
    git(seed, "add", "-A")
    git(seed, "commit", "-qm", "the repository as the README's reader has it")
    git(tmp_path, "clone", "-q", "--bare", str(seed), "origin.git")
    git(tmp_path, "clone", "-q", str(tmp_path / "origin.git"), "work")
    (tmp_path / "stand-ins").mkdir()
    (tmp_path / "home").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QT_", "GIT_"))}
    env.update(GIT_ENV)
    env["HOME"] = str(tmp_path / "home")
    env["PATH"] = f"{tmp_path / 'stand-ins'}:{BIN}:{env.get('PATH', '/usr/bin:/bin')}"
    sandbox = Sandbox(tmp_path, tmp_path / "work", tmp_path / "origin.git", env)
    yield sandbox
    for proc in sandbox.servers:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()


# --- the scenarios: one per block, keyed by the block's first command ---------------------


def _quick_start(box: Sandbox, block: Block) -> None:
    # Stand-in: `make -n`. This test runs inside `make test`, and `make run` builds the .venv
    # that `make test` has just built; `-n` shows each target exists and what it runs.
    for command in block.commands:
        target = command.split("#")[0].split()[1]
        out = box.run(f"make -n -C {ROOT} {target}", as_typed=command)
        assert ".venv" in out or "pytest" in out, out


def _pull_request(box: Sandbox, block: Block) -> None:
    for command in block.commands:
        box.run(command)
    pushed = git(box.origin, "show", "tighten-risk:policy/policy.yaml")
    assert "max_positions: 4" in pushed and 'lstm: "3.11"' in pushed


def _proposals(box: Sandbox, block: Block) -> None:
    # The reader's own rankings file, which the block takes as given.
    rankings = {"opp_rankings": {"BTCUSDT": 0.9, "ETHUSDT": 0.8, "SOLUSDT": 0.7}}
    (box.work / "rankings.json").write_text(json.dumps(rankings))
    example = "policy/proposal-20261128-093012-1a2b3c4-9f8e7d6c"
    made = ""
    for command in block.commands:
        # Stand-in: the example's branch name is one that this run really made.
        box.run(command.replace(example, made), as_typed=command)
        if not made:
            branches = git(box.origin, "for-each-ref", "--format=%(refname:short)", "refs/heads")
            made = next(b for b in branches.split() if b.startswith("policy/proposal-"))
            assert re.fullmatch(r"policy/proposal-\d{8}-\d{6}-[0-9a-f]{7}-[0-9a-f]{8}", made)


def _brakes(box: Sandbox, block: Block) -> None:
    for command in block.commands:
        box.run(command)
    branches = git(box.origin, "for-each-ref", "--format=%(refname:short)", "refs/heads")
    assert any(b.startswith("policy/brake-") for b in branches.split())


def _install(box: Sandbox, block: Block) -> None:
    # Stand-ins: GitHub is a bare clone of this repository, tagged as the README pins it, and
    # pip resolves and builds without installing (--dry-run) into the test's own environment.
    github = box.root / "github.git"
    git(box.root, "clone", "-q", "--bare", str(ROOT), str(github))
    git(github, "tag", "v0.1.0", "HEAD")
    for command in block.commands:
        local = command.replace(
            "git+https://github.com/quantum-trader/policyctl", f"git+file://{github}"
        )
        local = local.replace("pip install", f"{BIN / 'python'} -m pip install --dry-run -q", 1)
        box.run(local, as_typed=command)


def _replay(box: Sandbox, block: Block) -> None:
    # Stand-ins: the service's decision log and a logs/ directory, made by --generate.
    logs = box.root / "var" / "log" / "trading"
    logs.mkdir(parents=True)
    (box.work / "logs").mkdir()
    box.run(f"policyctl replay --generate 2000 -o {logs}/decisions.jsonl", prepares=True)
    box.run("policyctl replay --generate 2000 -o logs/decisions.jsonl", prepares=True)
    for command in block.commands:
        box.run(command.replace("/var/log/trading/", f"{logs}/"), as_typed=command)


def _serve(box: Sandbox, block: Block) -> None:
    (command,) = block.commands
    port = _port()  # stand-in: a free port, not 8000
    local = command.replace("--port 8000", f"--port {port}")
    proc = subprocess.Popen(
        ["bash", "-c", f"exec {local}"],
        cwd=box.work,
        env=box.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    box.servers.append(proc)
    box.ran.append(command)
    assert proc.stdout is not None and "serving http://" in proc.stdout.readline()
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/policy", timeout=5) as r:
                assert json.load(r)["max_positions"] == 5
                return
        except OSError:
            assert time.monotonic() < deadline
            time.sleep(0.1)


def _kustomize(box: Sandbox, block: Block) -> None:
    # Stand-ins: the cluster. `kubectl apply -f -` validates what it is given against the
    # Kubernetes schemas (kubernetes-validate, offline); `kustomize`, when absent, is kubectl's.
    applied = box.root / "applied.yaml"
    box.stand_in(
        "kubectl",
        f'if [ "$1" = apply ]; then cat > {applied}; exec {BIN}/kubernetes-validate {applied}; fi\n'
        'exec "$REAL" "$@"\n',
    )
    if shutil.which("kustomize") is None:
        box.stand_in("kustomize", 'shift; exec kubectl kustomize "$@"\n')
    for command in block.commands:
        box.run(command)
        assert "kind: Deployment" in applied.read_text()


def _rollout(box: Sandbox, block: Block) -> None:
    # Stand-ins: the pods are two real `policyctl serve` replicas on loopback, and `kubectl get
    # pods` lists the first of them.
    first, second = box.serve(), box.serve()
    port = first.rsplit(":", 1)[1]
    pods = {"items": [{"status": {"podIP": "127.0.0.1"}}]}
    box.stand_in("kubectl", f"echo '{json.dumps(pods)}'\n")
    for command in block.commands:
        local = command.replace("http://10.0.0.11:8000", first)
        local = local.replace("http://10.0.0.12:8000", second).replace(
            "--port 8000", f"--port {port}"
        )
        out = box.run(local, as_typed=command)
        assert "serve" in out, out


def _bundle(box: Sandbox, block: Block) -> None:
    # No stand-in: the real openssl makes the keys; the bundle is of the reader's checkout.
    for command in block.commands:
        box.run(command)
    statement = json.loads((box.work / "bundle" / "statement.dsse.json").read_text())
    assert statement["payloadType"] == "application/vnd.in-toto+json"


def _kill_switch(box: Sandbox, block: Block) -> None:
    # Prepared as a desk has it: a bundle key and the officer's brake-only key (the real
    # openssl), the checkout's policy signed, two replicas serving it with trust. Stand-ins:
    # the replicas' addresses, and `kubectl get pods` listing the first of them.
    steps = [
        "openssl genpkey -algorithm ed25519 -out ci.pem",
        "openssl genpkey -algorithm ed25519 -out officer.pem",
        "mkdir -p trust/brakes && openssl pkey -in ci.pem -pubout -out trust/ci.pem",
        "openssl pkey -in officer.pem -pubout -out trust/brakes/officer.pem",
        f"policyctl bundle build --key ci.pem --out {box.root}/bundle",
    ]
    for step in steps:
        box.run(step, prepares=True)
    urls = [
        box.serve(f"{box.root}/bundle/policy.yaml", "--trust", "trust", "--signed-brakes", signed)
        for signed in (f"{box.root}/signed-0", f"{box.root}/signed-1")
    ]
    (box.work / "replicas.txt").write_text("\n".join(urls) + "\n")
    pods = {"items": [{"status": {"podIP": "127.0.0.1"}}]}
    box.stand_in("kubectl", f"echo '{json.dumps(pods)}'\n")
    first_port = urls[0].rsplit(":", 1)[1]
    for command in block.commands:
        local = command.replace("http://10.0.0.11:8000", urls[0])
        local = local.replace("http://10.0.0.12:8000", urls[1])
        local = local.replace("--port 8000", f"--port {first_port}")
        box.run(local, as_typed=command)
    for url in urls:
        with urllib.request.urlopen(f"{url}/api/policy", timeout=5) as answer:
            assert json.load(answer)["max_positions"] == 1


def _adjustments(box: Sandbox, block: Block) -> None:
    said = [box.run(command) for command in block.commands]
    branches = git(box.origin, "for-each-ref", "--format=%(refname:short)", "refs/heads")
    assert any(b.startswith("policy/adjustment-") for b in branches.split())
    listed = said[2]  # brake list
    assert "rebalance" in listed and "adjustment" in listed and "(RISK-1234)" in listed
    assert "adjustment rebalance lifted" in said[3]


def _audit(box: Sandbox, block: Block) -> None:
    # Prepared as the desk's history has it: a loosening merged, and the signing job's evidence
    # branch holding its statement with the review record. Stand-in: the statement is signed
    # with a key made here (the real openssl), not the desk's, so its trust dir stands in for
    # deploy/trust.
    looser = (box.work / "policy" / "policy.yaml").read_text()
    looser = looser.replace("max_positions: 5", "max_positions: 6").replace(
        "version: 1", "version: 2"
    )
    (box.work / "policy" / "policy.yaml").write_text(looser)
    review = {
        "known": True, "pull_request": 9, "author": "carol", "lane": "review",
        "justification": "=1+1 more room",
        "approvers": [{"login": "alice", "at": "2026-12-04T09:00:00Z"}],
    }  # fmt: skip
    (box.root / "review.json").write_text(json.dumps(review))
    steps = [
        "git commit -qam 'one more position' && git push -q origin main",
        f"openssl genpkey -algorithm ed25519 -out {box.root}/ci.pem",
        f"mkdir -p {box.root}/trust && openssl pkey -in {box.root}/ci.pem -pubout"
        f" -out {box.root}/trust/ci.pem",
        f"policyctl bundle build --key {box.root}/ci.pem --out {box.root}/bundle"
        f" --review {box.root}/review.json",
        "git switch -q --orphan policy-evidence && mkdir statements"
        f" && cp {box.root}/bundle/statement.dsse.json statements/$(git rev-parse main).dsse.json"
        " && git add statements && git commit -qm evidence && git push -q origin policy-evidence"
        " && git switch -q main && git fetch -q origin",
    ]
    for step in steps:
        box.run(step, prepares=True)
    for command in block.commands:
        box.run(command.replace("deploy/trust", f"{box.root}/trust"), as_typed=command)
    rows = (box.work / "audit-2026.csv").read_text()
    assert "max_positions" in rows and "alice" in rows and "'=1+1 more room" in rows


SCENARIOS: dict[str, Callable[[Sandbox, Block], None]] = {
    "policyctl adjust max_positions=8": _adjustments,
    "policyctl audit --since 2026": _audit,
    "make run": _quick_start,
    "git switch -c tighten-risk": _pull_request,
    "policyctl propose risk_mode=DEFENSIVE": _proposals,
    "policyctl brake risk_mode=DEFENSIVE --for 2h": _brakes,
    "policyctl brake risk_mode=DEFENSIVE max_positions=1": _kill_switch,
    "pip install": _install,
    "policyctl replay": _replay,
    "policyctl serve": _serve,
    "kustomize build": _kustomize,
    "policyctl rollout status": _rollout,
    "openssl genpkey": _bundle,
}


def _scenario(block: Block) -> Callable[[Sandbox, Block], None]:
    keys = [key for key in SCENARIOS if block.commands[0].startswith(key)]
    assert len(keys) == 1, f"{block.readme}:{block.line}: no scenario runs this block"
    return SCENARIOS[keys[0]]


BLOCKS = _blocks()


def test_every_block_has_a_scenario() -> None:
    assert len(BLOCKS) >= 9
    for block in BLOCKS:
        _scenario(block)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("block", BLOCKS, ids=[f"{b.readme}:{b.line}" for b in BLOCKS])
def test_every_command_of_the_readmes_runs(box: Sandbox, block: Block) -> None:
    _scenario(block)(box, block)
    assert box.ran == list(block.commands)  # each command, in order, none left out
