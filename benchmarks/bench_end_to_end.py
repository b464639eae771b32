"""From a writer's ``propose`` to a running store serving it: every step, on this machine.

Run: .venv/bin/python benchmarks/bench_end_to_end.py    (or `make bench`)

A local bare repository stands in for the git host. Each trial:

1. **propose**: the ranker's ``policyctl.propose`` (a tightening change: the auto lane) in the
   writer's clone, pushed as a new branch;
2. **lane**: CI's step, ``policyctl lane origin/main origin/BRANCH`` as a process (interpreter
   start included), after fetching the branch;
3. **merge**: the merge button's work: a merge commit of the branch on ``main``, pushed;
4. **distribute**: git-sync's work: fetch ``main``, a worktree of the new commit, and the
   ``current`` link swapped to it by a rename (as git-sync does). The wait for git-sync's
   ``--period`` (10 s in ``deploy/kubernetes/git-sync``) is not in the figure: it is a
   setting, added by the reader. The ConfigMap path's kubelet sync (60-90 s observed) cannot
   run here;
5. **apply**: a `PolicyStore` reading ``current/policy/policy.yaml`` serves the new version
   (measured from the rename by polling ``store.current()`` every 0.1 ms).

Figures: p50 and the largest of each step and of the whole, over the trials.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _policies import IDENTITY, git

ROOT = Path(__file__).resolve().parent.parent
POLICY = (ROOT / "policy" / "policy.yaml").read_text()
TRIALS = 12
STEPS = ("propose", "lane", "merge", "distribute", "apply")


def _setup(tmp: Path) -> tuple[Path, Path, Path]:
    seed = tmp / "seed"
    (seed / "policy").mkdir(parents=True)
    (seed / "policy" / "policy.yaml").write_text(POLICY)
    git(seed, "init", "-q", "-b", "main")
    git(seed, "add", "-A")
    git(seed, "commit", "-qm", "policy")
    git(tmp, "clone", "-q", "--bare", str(seed), "origin.git")
    for clone in ("writer", "merger", "sync"):
        git(tmp, "clone", "-q", str(tmp / "origin.git"), clone)
    _swap(tmp / "sync", git(tmp / "sync", "rev-parse", "HEAD"))
    return tmp / "writer", tmp / "merger", tmp / "sync"


def _swap(sync: Path, sha: str) -> None:
    """git-sync's publish: a worktree named by the commit, then the link renamed over."""
    tree = sync.parent / "worktrees" / sha
    git(sync, "worktree", "add", "-q", "--detach", str(tree), sha)
    link = sync.parent / "current.new"
    link.symlink_to(tree)
    link.rename(sync.parent / "current")


def _trial(n: int, writer: Path, merger: Path, sync: Path, store: Any) -> dict[str, float]:
    from policyctl import propose  # noqa: PLC0415

    wanted = store.current().version + 1  # propose raises it by one
    marks = [time.perf_counter()]
    made = propose(
        {"global_min_confidence": round(0.70 + (n + 1) / 100, 2)},
        message=f"ranker run {n}",
        repo=writer,
        author="ranker <ranker@desk.example>",
    )
    marks.append(time.perf_counter())
    git(writer, "fetch", "-q", "origin", f"+refs/heads/{made.branch}:refs/remotes/origin/pr")
    lane = subprocess.run(
        [str(Path(sys.executable).parent / "policyctl"), "lane", "origin/main", "origin/pr"],
        cwd=writer,
        capture_output=True,
        text=True,
        check=False,
    )
    assert lane.stdout.startswith("auto"), (lane.stdout, lane.stderr)
    marks.append(time.perf_counter())
    git(merger, "fetch", "-q", "origin", "+refs/heads/*:refs/remotes/origin/*")
    git(merger, "checkout", "-q", "--detach", "origin/main")
    git(merger, "merge", "-q", "--no-ff", "-m", f"Merge {made.branch}", f"origin/{made.branch}")
    git(merger, "push", "-q", "origin", "HEAD:refs/heads/main")
    marks.append(time.perf_counter())
    git(sync, "fetch", "-q", "origin", "main")
    _swap(sync, git(sync, "rev-parse", "FETCH_HEAD"))
    marks.append(time.perf_counter())
    deadline = time.monotonic() + 10
    while store.current().version != wanted:
        assert time.monotonic() < deadline, "the store never applied the merge"
        time.sleep(0.0001)
    marks.append(time.perf_counter())
    return {step: marks[i + 1] - marks[i] for i, step in enumerate(STEPS)}


def main() -> dict[str, Any]:
    from policyctl import PolicyStore  # noqa: PLC0415

    os.environ.update(IDENTITY)
    with tempfile.TemporaryDirectory() as name:
        writer, merger, sync = _setup(Path(name))
        current = sync.parent / "current" / "policy" / "policy.yaml"
        with PolicyStore(current, env={}) as store:
            trials = [_trial(n, writer, merger, sync, store) for n in range(TRIALS)]
            served = store.current().version
    assert served == 1 + TRIALS
    result: dict[str, Any] = {}
    for step in (*STEPS, "total"):
        values = [sum(t.values()) if step == "total" else t[step] for t in trials]
        result[step] = {"p50": statistics.median(values), "max": max(values)}
    print(f"propose -> served, git-sync path, {TRIALS} trials (a local bare repository as host)")
    for step, figure in result.items():
        print(f"  {step:<11} p50 {figure['p50'] * 1e3:7.1f} ms   max {figure['max'] * 1e3:7.1f} ms")
    print("  + git-sync's --period (10 s here) before distribute, + the reviewers for `review`")
    return result


if __name__ == "__main__":
    main()
