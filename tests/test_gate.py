"""The review gate, run as GitHub runs it: real git, real merge commits, the workflow's own steps.

Each case builds a repository holding this project (the checker) and a policy, a pull request
branch, and the merge commit GitHub would test (``refs/pull/1/merge``, or the merge queue's);
then fetches it with ``fetch-depth: 2`` as actions/checkout does and runs the steps of
``.github/workflows/policy.yml`` by their ids: the scripts are read from the workflow, never
copied here. The install step runs for real once (hash-pinned wheels from the registry).
"""

from __future__ import annotations

import contextlib
import html
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from policyctl.pipeline import _reader

from .support.git import GIT_ENV, git
from .support.policy import VALID

ROOT = Path(__file__).parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "policy.yml"
LOOSER = VALID.replace("NORMAL", "AGGRESSIVE").replace("positions: 5", "positions: 6")


def _steps() -> dict[str, str]:
    workflow = _reader.parse(WORKFLOW.read_bytes()).data
    return {s["id"]: s["run"] for s in workflow["jobs"]["gate"]["steps"] if "id" in s}


def _step_env(step: str) -> dict[str, str]:
    """The plain ``env:`` values of a step (not the ``${{ }}`` ones, which the tests supply)."""
    workflow = _reader.parse(WORKFLOW.read_bytes()).data
    (found,) = [s for s in workflow["jobs"]["gate"]["steps"] if s.get("id") == step]
    return {k: v for k, v in found.get("env", {}).items() if "${{" not in v}


@dataclass
class Verdict:
    status: int
    output: str
    markdown: str

    @property
    def summary(self) -> str:
        """The job summary as a reviewer reads it: rendered, tags dropped, references decoded."""
        rendered = MarkdownIt("commonmark").enable("table").render(self.markdown)
        return html.unescape(re.sub(r"<[^>]+>", "", rendered))


def _run_step(
    script: str, workspace: Path, temp: Path, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **(extra or {}),
        **os.environ,
        **GIT_ENV,
        "RUNNER_TEMP": str(temp),
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_STEP_SUMMARY": str(temp / "summary.md"),
        # actions/setup-python puts its python first on PATH; here, this test's interpreter.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    for name in ("PYTHONPATH", "QT_POLICY_FILE"):
        env.pop(name, None)
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def _project(root: Path, policy: str | None, path: str = "policy/policy.yaml") -> None:
    """The project's checker and gate files, and a policy, in a fresh repository on main."""
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "policyctl", root / "policyctl", ignore=ignore)
    shutil.copytree(ROOT / ".github", root / ".github")
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    if policy is not None:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(policy)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")


def _write(root: Path, text: str, path: str = "policy/policy.yaml") -> None:
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    (root / path).write_text(text)


class Gate:
    """Runs the workflow's steps against merge commits of a source repository."""

    def __init__(self, tmp: Path, venv: Path) -> None:
        self.tmp, self.venv, self.runs = tmp, venv, 0

    def merge(self, src: Path, branch: str, onto: str = "main") -> str:
        """Build the merge commit GitHub tests (first parent: ``onto``) as refs/pull/1/merge."""
        git(src, "checkout", "-q", "--detach", onto)
        git(src, "merge", "-q", "--no-ff", "--no-edit", branch)
        sha = git(src, "rev-parse", "HEAD")
        git(src, "update-ref", "refs/pull/1/merge", sha)
        git(src, "checkout", "-q", "main")
        return sha

    def _checkout(self, src: Path, ref: str) -> tuple[Path, Path]:
        self.runs += 1
        workspace, temp = self.tmp / f"work{self.runs}", self.tmp / f"temp{self.runs}"
        workspace.mkdir()
        temp.mkdir()
        git(workspace, "init", "-q")  # what actions/checkout does with fetch-depth: 2
        git(workspace, "fetch", "-q", "--depth=2", f"file://{src}", f"+{ref}:refs/remotes/gate")
        git(workspace, "checkout", "-q", "--detach", "refs/remotes/gate")
        base = _run_step(_steps()["base"], workspace, temp)
        assert base.returncode == 0, base.stderr
        (temp / "gate-venv").symlink_to(self.venv)  # installed once by the fixture
        return workspace, temp

    def lane(self, src: Path, head_repo: str = "desk/policy") -> str:
        """The lane step's output for refs/pull/1/merge, from a PR of ``head_repo``."""
        workspace, temp = self._checkout(src, "refs/pull/1/merge")
        output = temp / "output"
        env = {"HEAD_REPO": head_repo, "REPO": "desk/policy", "GITHUB_OUTPUT": str(output)}
        result = _run_step(_steps()["lane"], workspace, temp, env)
        assert result.returncode == 0, result.stdout + result.stderr
        return output.read_text()

    def replay(self, src: Path) -> Verdict:
        """The replay step on refs/pull/1/merge: its exit status, output and job summary."""
        return self._verdict("replay", src, "refs/pull/1/merge", _step_env("replay"))

    def judge(self, src: Path, ref: str = "refs/pull/1/merge") -> Verdict:
        return self._verdict("verdict", src, ref)

    def _verdict(
        self, step: str, src: Path, ref: str, env: dict[str, str] | None = None
    ) -> Verdict:
        workspace, temp = self._checkout(src, ref)
        result = _run_step(_steps()[step], workspace, temp, env)
        summary = temp / "summary.md"
        return Verdict(
            result.returncode,
            result.stdout + result.stderr,
            summary.read_text() if summary.exists() else "",
        )


# Every test that uses it is marked slow: a real pip install (seconds to tens of seconds, by the
# network), then git and the workflow's bash steps per case. The quick loop keeps the two that
# read the workflow without running it.
@pytest.fixture(scope="module")
def gate_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The workflow's install step, run for real once: a venv with the hash-pinned wheels."""
    tmp = tmp_path_factory.mktemp("install")
    _project(tmp / "src", VALID)
    git(tmp / "src", "commit", "-q", "--allow-empty", "-m", "a change to judge")
    temp = tmp / "temp"
    temp.mkdir()
    steps = _steps()
    for step in ("base", "install"):
        result = _run_step(steps[step], tmp / "src", temp)
        assert result.returncode == 0, result.stdout + result.stderr
    return temp / "gate-venv"


@pytest.fixture
def gate(tmp_path: Path, gate_venv: Path) -> Iterator[Gate]:
    yield Gate(tmp_path, gate_venv)


@contextlib.contextmanager
def _branch(src: Path, message: str, branch: str = "pr") -> Iterator[None]:
    """Work on a new branch off main; what the block changes is committed there."""
    git(src, "checkout", "-q", "-b", branch, "main")
    yield
    git(src, "add", "-A")
    git(src, "commit", "-qm", message)
    git(src, "checkout", "-q", "main")


def _pr(src: Path, text: str, *, branch: str = "pr", message: str = "change") -> None:
    with _branch(src, message, branch):
        _write(src, text)


def test_install_step_pins_every_wheel_by_hash() -> None:
    lines = (ROOT / ".github" / "gate" / "requirements.txt").read_text().splitlines()
    pins = [line for line in lines if line and not line.startswith((" ", "#"))]
    assert pins and all("==" in p and p.endswith("\\") for p in pins), pins
    assert "--require-hashes" in _steps()["install"]


@pytest.mark.slow
def test_an_honest_loosening_without_a_bump_fails(gate: Gate, tmp_path: Path) -> None:
    src = tmp_path / "src"
    _project(src, VALID)
    _pr(src, LOOSER)  # version 7, as at the base
    gate.merge(src, "pr")
    verdict = gate.judge(src)
    assert verdict.status == 1, verdict.output
    assert "LOOSENS" in verdict.summary and "--require-bump fails" in verdict.summary
    assert "version did not rise (7 -> 7); set version: 8" in verdict.summary


@pytest.mark.slow
@pytest.mark.parametrize("decoy", ["HEAD", "origin/main", "HEAD^1"])
def test_a_decoy_file_named_like_a_revision_changes_nothing(
    gate: Gate, tmp_path: Path, decoy: str
) -> None:
    src = tmp_path / "src"
    _project(src, VALID)
    with _branch(src, "loosen, and bring my own base"):
        _write(src, LOOSER)
        _write(src, VALID.replace("version: 7", "version: 2"), decoy)  # "the base", forged
    gate.merge(src, "pr")
    verdict = gate.judge(src)
    assert verdict.status == 1, verdict.output
    assert "LOOSENS" in verdict.summary
    assert "risk_mode" in verdict.summary and "max_positions" in verdict.summary


@pytest.mark.slow
def test_the_checker_comes_from_the_base(gate: Gate, tmp_path: Path) -> None:
    src = tmp_path / "src"
    _project(src, VALID)
    with _branch(src, "loosen, and teach the checker it is fine"):
        _write(src, LOOSER)
        diff = src / "policyctl" / "review" / "_diff.py"
        text = diff.read_text()
        rigged = text.replace('return "loosens" if sign > 0 else', 'return "neutral" if sign else')
        assert rigged != text
        diff.write_text(rigged)
        compare = src / "policyctl" / "review" / "_compare.py"
        compare.write_text(
            compare.read_text().replace(
                '"""Why ``--require-bump`` fails, or None when it passes."""',
                '"""Rigged."""\n        return None',
            )
        )
    gate.merge(src, "pr")
    verdict = gate.judge(src)
    assert verdict.status == 1, verdict.output
    assert "LOOSENS" in verdict.summary and "--require-bump fails" in verdict.summary


@pytest.mark.slow
def test_a_loosening_with_a_bump_passes_and_lists_the_loosening_first(
    gate: Gate, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    _project(src, VALID)
    _pr(src, LOOSER.replace("version: 7", "version: 8").replace("ETHUSDT]", "ETHUSDT, SOLUSDT]"))
    gate.merge(src, "pr")
    verdict = gate.judge(src)
    assert verdict.status == 0, verdict.output
    rows = [line for line in verdict.markdown.splitlines() if line.startswith("| ")][2:]
    flags = [row.split("|")[1].strip() for row in rows]
    assert flags[:3] == ["**LOOSENS**"] * 3 and "neutral" in flags[3:], verdict.markdown
    assert "require-bump" not in verdict.summary


@pytest.mark.slow
def test_two_prs_from_one_base_fail_the_second_time_on_the_merge_queue(
    gate: Gate, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    _project(src, VALID)
    v8 = VALID.replace("version: 7", "version: 8")
    _pr(src, v8.replace("[trend_follow, mean_reversion]", "[trend_follow]"), branch="a")
    _pr(src, v8.replace("global_min_confidence: 0.70", "global_min_confidence: 0.75"), branch="b")
    # Each alone, against the base it was opened on, passes.
    for branch in ("a", "b"):
        gate.merge(src, branch)
        assert gate.judge(src).status == 0
    # a lands; b enters the merge queue: judged against main as it is now.
    git(src, "merge", "-q", "--no-ff", "--no-edit", "a")
    sha = gate.merge(src, "b")
    git(src, "update-ref", "refs/heads/gh-readonly-queue/main/pr-2", sha)
    verdict = gate.judge(src, "refs/heads/gh-readonly-queue/main/pr-2")
    assert verdict.status == 1, verdict.output
    assert "version did not rise (8 -> 8)" in verdict.summary
    assert "global_min_confidence" in verdict.summary


@pytest.mark.slow
def test_a_pr_that_adds_the_policy_shows_every_field(gate: Gate, tmp_path: Path) -> None:
    src = tmp_path / "src"
    _project(src, None)
    _pr(src, VALID)
    gate.merge(src, "pr")
    verdict = gate.judge(src)
    assert verdict.status == 0, verdict.output
    assert "(absent)" in verdict.summary
    assert "allowed_symbols.BTCUSDT added" in verdict.summary
    assert "LOOSENS" in verdict.summary


@pytest.mark.slow
def test_a_pr_that_moves_the_policy_into_place_diffs_the_content(
    gate: Gate, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    _project(src, VALID, path="config/policy.yaml")
    with _branch(src, "move the policy where the tools look, and tighten"):
        (src / "policy").mkdir()
        git(src, "mv", "config/policy.yaml", "policy/policy.yaml")
        tighter = VALID.replace("version: 7", "version: 8").replace("positions: 5", "positions: 4")
        _write(src, tighter)
    gate.merge(src, "pr")
    verdict = gate.judge(src)
    assert verdict.status == 0, verdict.output
    assert "HEAD^1:config/policy.yaml" in verdict.summary
    assert "2 change(s): 0 loosen risk, 1 tighten, 1 neutral." in verdict.summary


@pytest.mark.slow
def test_the_lane_step_sorts_pull_requests(gate: Gate, tmp_path: Path) -> None:
    src = tmp_path / "src"
    _project(src, VALID)
    _pr(src, VALID.replace("version: 7", "version: 8").replace("NORMAL", "DEFENSIVE"))
    gate.merge(src, "pr")
    assert gate.lane(src) == "lane=auto\n"
    assert gate.lane(src, head_repo="someone/fork") == "lane=review\n"  # forks always wait
    _pr(src, LOOSER.replace("version: 7", "version: 8"), branch="looser")
    gate.merge(src, "looser")
    assert gate.lane(src) == "lane=review\n"


def test_every_policyctl_command_in_the_workflow_parses() -> None:
    from policyctl.cli._main import parser as _parser  # noqa: PLC0415 (the parser itself is the point)

    workflow = _reader.parse(WORKFLOW.read_bytes()).data
    scripts = [s.get("run", "") for job in workflow["jobs"].values() for s in job["steps"]]
    calls = [
        m.group(1) for script in scripts for m in re.finditer(r"\bgate ([a-z][^|>&;)]*)", script)
    ]
    assert len(calls) >= 3, calls
    for call in calls:
        # Shell around the words: `--` (revisions follow), line continuations, a `2>` redirection.
        words = [w for w in call.split() if w not in ("--", "\\", "2") and w[0] != '"']
        _parser().parse_args(words)  # SystemExit (a test failure) on an unknown option


def _sample(confidences: list[float], symbol: str = "BTCUSDT") -> str:
    return "".join(
        f'{{"symbol": "{symbol}", "strategy": "trend_follow", "confidence": {c}}}\n'
        for c in confidences
    )


@pytest.mark.slow
def test_the_replay_step_summarises_the_base_s_sample(gate: Gate, tmp_path: Path) -> None:
    src = tmp_path / "src"
    _project(src, VALID)
    with _branch(src, "the services' decision sample"):
        _write(src, _sample([0.72, 0.75, 0.9, 0.95]), "policy/replay/decisions.jsonl")
    git(src, "merge", "-q", "pr")
    tighter = VALID.replace("version: 7", "version: 8").replace("0.70", "0.80")
    with _branch(src, "tighter, and a sample that would hide it", "tighter"):
        _write(src, tighter)
        _write(src, _sample([0.99]), "policy/replay/decisions.jsonl")
    gate.merge(src, "tighter")
    verdict = gate.replay(src)
    assert verdict.status == 0, verdict.output
    # The base's sample (4 decisions), not the one the pull request brings.
    assert "would have refused 2 and allowed 0 of 4 decisions" in verdict.summary
    assert "confidence_below_min" in verdict.summary


@pytest.mark.slow
def test_the_replay_step_without_a_sample_says_so(gate: Gate, tmp_path: Path) -> None:
    src = tmp_path / "src"
    _project(src, VALID)
    _pr(src, VALID.replace("version: 7", "version: 8"))
    gate.merge(src, "pr")
    verdict = gate.replay(src)
    assert verdict.status == 0 and "no decision sample" in verdict.output
    assert verdict.markdown == ""


@pytest.mark.slow
def test_a_symlinked_policy_is_invalid_to_the_gate(gate: Gate, tmp_path: Path) -> None:
    """The link's name is a tight policy (git's blob for a link is its target's name); the
    file it points to is loose. Everything that deploys follows the link: the gate refuses."""
    src = tmp_path / "src"
    _project(src, VALID)
    tight = (
        "{version: 8, risk_mode: DEFENSIVE, allowed_strategies: [trend_follow],"
        " allowed_symbols: [BTCUSDT], max_risk_per_trade: 0.005, max_positions: 1,"
        " global_min_confidence: 0.9, opp_rankings: {}, model_versions: {}}"
    )
    with _branch(src, "tighten (it says)"):
        _write(src, LOOSER.replace("version: 7", "version: 8"), f"policy/{tight}")
        (src / "policy" / "policy.yaml").unlink()
        (src / "policy" / "policy.yaml").symlink_to(tight)
    gate.merge(src, "pr")
    verdict = gate.judge(src)
    assert verdict.status == 1, verdict.output
    assert "policy/policy.yaml is a symbolic link" in verdict.output
    assert "0 loosen risk" not in verdict.summary
    assert gate.lane(src) == "lane=invalid\n"


@pytest.mark.slow
def test_a_tightening_that_swaps_the_replay_sample_waits_for_review(
    gate: Gate, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    _project(src, VALID)
    with _branch(src, "the services' decision sample"):
        _write(src, _sample([0.72, 0.75, 0.9]), "policy/replay/decisions.jsonl")
    git(src, "merge", "-q", "pr")
    with _branch(src, "tighten, and a sample of my choosing", "swap"):
        _write(src, VALID.replace("version: 7", "version: 8").replace("NORMAL", "DEFENSIVE"))
        _write(src, _sample([0.99]), "policy/replay/decisions.jsonl")
    gate.merge(src, "swap")
    assert gate.lane(src) == "lane=review\n"
