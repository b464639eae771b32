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

from .support.gh import FakeGh
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
        risk = src / "policyctl" / "model" / "_risk.py"
        text = risk.read_text()
        rigged = text.replace(
            'return "loosens" if number > 0 else', 'return "neutral" if number else'
        )
        assert rigged != text
        risk.write_text(rigged)
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


# --- the auto lane (policy-auto.yml) and the merge queue's check ------------------------------

AUTO_WORKFLOW = ROOT / ".github" / "workflows" / "policy-auto.yml"
REPO = "desk/policy"
BOT = "policy-bot"


def _auto_steps() -> dict[str, str]:
    workflow = _reader.parse(AUTO_WORKFLOW.read_bytes()).data
    return {s["id"]: s["run"] for s in workflow["jobs"]["approve"]["steps"] if "id" in s}


class AutoLane:
    """policy-auto.yml's steps, run in a checkout of main whose origin holds the pull request's
    merge commit (refs/pull/1/merge), with `gh` answered by a stand-in (no GitHub here)."""

    def __init__(self, tmp: Path, venv: Path, src: Path) -> None:
        self.workspace, self.temp = tmp / "auto-work", tmp / "auto-temp"
        git(tmp, "clone", "-q", "--branch", "main", f"file://{src}", str(self.workspace))
        self.temp.mkdir()
        (self.temp / "gate-venv").symlink_to(venv)
        self.gh = FakeGh(tmp / "gh")
        self.head = git(src, "rev-parse", "refs/pull/1/merge^2")

    def _env(self, extra: dict[str, str]) -> dict[str, str]:
        path = f"{self.gh.bin}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}"
        return {
            "GH_TOKEN": "token",
            "HEAD_SHA": self.head,
            "PR": "1",
            "REPO": REPO,
            "DEFAULT_BRANCH": "main",
            "RUN_ATTEMPT": "1",
            "GITHUB_OUTPUT": str(self.temp / "output"),
            "PATH": path + os.environ["PATH"],
            **extra,
        }

    def judge(self, **extra: str) -> str:
        """The lane main's checker gives (empty: nothing to judge)."""
        (self.temp / "output").write_text("")
        env = self._env(extra)
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", _auto_steps()["judge"]],
            cwd=self.workspace,
            env={**os.environ, **GIT_ENV, **env, "RUNNER_TEMP": str(self.temp),
                 "GITHUB_WORKSPACE": str(self.workspace)},
            capture_output=True, text=True, check=False, timeout=300,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        lines = (self.temp / "output").read_text().splitlines()
        return [line for line in lines if line.startswith("lane=")][-1].removeprefix("lane=")

    def approve(self, **extra: str) -> list[list[str]]:
        """The approve step's calls to GitHub."""
        env = self._env(extra)
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", _auto_steps()["approve"]],
            cwd=self.workspace, env={**os.environ, **env}, capture_output=True, text=True,
            check=False, timeout=60,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        return self.gh.calls()


def _auto(tmp_path: Path, gate_venv: Path, head_text: str, **files: str) -> AutoLane:
    src = tmp_path / "src"
    _project(src, VALID)
    with _branch(src, "the pull request"):
        _write(src, head_text)
        for path, text in files.items():
            _write(src, text, path)
    Gate(tmp_path, gate_venv).merge(src, "pr")
    return AutoLane(tmp_path, gate_venv, src)


TIGHTER = VALID.replace("version: 7", "version: 8").replace("NORMAL", "DEFENSIVE")


@pytest.mark.slow
def test_the_auto_lane_approves_the_judged_head_and_nothing_else(
    tmp_path: Path, gate_venv: Path
) -> None:
    auto = _auto(tmp_path, gate_venv, TIGHTER)
    auto.gh.answers({f"GET repos/{REPO}/pulls/1": ["main"]})
    assert auto.judge() == "auto"
    pull = f"GET repos/{REPO}/pulls/1"
    auto.gh.answers({pull: [auto.head], f"POST repos/{REPO}/pulls/1/reviews": ["7"],
                     "pr merge": [""]})  # fmt: skip
    calls = auto.approve()
    (review,) = [c for c in calls if "POST" in c]
    assert f"commit_id={auto.head}" in review and "event=APPROVE" in review
    assert calls[-1][:2] == ["pr", "merge"] and calls[-1][-1] == auto.head


@pytest.mark.slow
def test_a_head_that_moved_is_not_approved(tmp_path: Path, gate_venv: Path) -> None:
    auto = _auto(tmp_path, gate_venv, TIGHTER)
    pull = f"GET repos/{REPO}/pulls/1"
    auto.gh.answers({pull: ["f" * 40]})  # pushed after the gate ran
    calls = auto.approve()
    assert not [c for c in calls if "POST" in c or c[:1] == ["pr"]]
    # ...and one pushed while the approval was being given: the approval is dismissed.
    auto.gh.answers({pull: [auto.head, "f" * 40], f"POST repos/{REPO}/pulls/1/reviews": ["7"],
                     f"PUT repos/{REPO}/pulls/1/reviews/7/dismissals": [""]})  # fmt: skip
    calls = auto.approve()
    assert [c for c in calls if "PUT" in c] and not [c for c in calls if c[:1] == ["pr"]]


@pytest.mark.slow
def test_the_judge_trusts_nothing_of_the_pull_request(tmp_path: Path, gate_venv: Path) -> None:
    """main's checker decides, over git objects: a pull request that teaches its own checker
    that a loosening is auto gets review; a re-run, another base or a moved merge get nothing."""
    rigged = (
        (ROOT / "policyctl" / "review" / "_lane.py")
        .read_text()
        .replace('return LaneVerdict("review" if reasons else "auto"', 'return LaneVerdict("auto"')
    )
    looser = LOOSER.replace("version: 7", "version: 8")
    auto = _auto(tmp_path, gate_venv, looser, **{"policyctl/review/_lane.py": rigged})
    auto.gh.answers({f"GET repos/{REPO}/pulls/1": ["main"]})
    assert auto.judge() == "review"
    assert auto.judge(RUN_ATTEMPT="2") == ""  # a re-run's outputs may be an older attempt's
    auto.gh.answers({f"GET repos/{REPO}/pulls/1": ["release"]})
    assert auto.judge() == ""  # not into the default branch
    auto.gh.answers({f"GET repos/{REPO}/pulls/1": ["main"]})
    assert auto.judge(HEAD_SHA="e" * 40) == ""  # the merge commit is not of the judged head


def test_the_bot_s_token_is_only_in_main_s_workflow_run() -> None:
    gate = WORKFLOW.read_text()
    assert "secrets.POLICY" not in gate and "${{ secrets" not in gate
    assert "environment:" not in gate  # no job of the pull request's run reaches the bot's
    auto = _reader.parse(AUTO_WORKFLOW.read_bytes()).data
    assert set(auto["on"]) == {"workflow_run"}
    assert auto["on"]["workflow_run"]["workflows"] == ["policy"]
    job = auto["jobs"]["approve"]
    condition = job["if"]
    for clause in ("run_attempt == 1", "conclusion == 'success'", "event == 'pull_request'"):
        assert clause in condition, clause
    checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout"))
    assert "ref" not in checkout.get("with", {})  # main, never the pull request's head
    for step in job["steps"]:
        assert "${{" not in step.get("run", "")  # data reaches the scripts through env only


def _queue(
    tmp_path: Path,
    gate_venv: Path,
    head_text: str,
    approvers: str,
    permissions: dict[str, str] | None = None,
    author: str = "desk-dev",
) -> tuple[int, str]:
    """The gate's queue step on a merge-queue commit adding a pull request to main."""
    src = tmp_path / "src"
    _project(src, VALID)
    _pr(src, head_text)
    sha = Gate(tmp_path, gate_venv).merge(src, "pr")
    ref = f"refs/heads/gh-readonly-queue/main/pr-2-{sha}"
    git(src, "update-ref", ref, sha)
    gh = FakeGh(tmp_path / "gh")
    answers = {
        f"GET repos/{REPO}/pulls/2/reviews?per_page=100": [approvers],
        f"GET repos/{REPO}/pulls/2": [author],
    }
    for login, permission in (permissions or {}).items():
        answers[f"GET repos/{REPO}/collaborators/{login}/permission"] = [permission]
    gh.answers(answers)
    gate = Gate(tmp_path, gate_venv)
    workspace, temp = gate._checkout(src, ref)
    path = os.pathsep.join([str(gh.bin), str(Path(sys.executable).parent), os.environ["PATH"]])
    env = {
        "GH_TOKEN": "token",
        "HEAD_REF": ref.removeprefix("refs/heads/"),
        "REPO": REPO,
        "BOT": BOT,
        "PATH": path,
    }
    result = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", _steps()["queue"]],
        cwd=workspace, env={**os.environ, **GIT_ENV, **env, "RUNNER_TEMP": str(temp)},
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    return result.returncode, result.stdout + result.stderr


@pytest.mark.slow
def test_the_merge_queue_refuses_a_bot_approval_that_is_no_longer_auto(
    tmp_path: Path, gate_venv: Path
) -> None:
    looser = LOOSER.replace("version: 7", "version: 8")
    status, output = _queue(tmp_path / "a", gate_venv, looser, BOT)
    assert status == 1 and "no approval by a person with write access" in output, output
    status, output = _queue(  # separation of duties: the author's own approval is no review
        tmp_path / "e", gate_venv, looser, f"{BOT}\nrisk-officer", {"risk-officer": "write"},
        author="risk-officer",
    )  # fmt: skip
    assert status == 1 and "an approval by the author (risk-officer) does not count" in output
    status, output = _queue(
        tmp_path / "b", gate_venv, looser, f"{BOT}\nrisk-officer", {"risk-officer": "write"}
    )
    assert status == 0, output
    status, output = _queue(  # a drive-by approval by someone who may not write here
        tmp_path / "d", gate_venv, looser, f"{BOT}\nstranger", {"stranger": "read"}
    )
    assert status == 1 and "no approval by a person with write access" in output, output
    status, output = _queue(tmp_path / "c", gate_venv, TIGHTER, BOT)
    assert status == 0 and "lane: auto" in output, output
