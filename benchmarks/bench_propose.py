"""One ``propose`` on a repository with 1,000 commits, beside the git work it cannot avoid.

Run: .venv/bin/python benchmarks/bench_propose.py    (or `make bench`)

The repository's history is built with ``git fast-import`` (1,000 commits, the policy changed
in every tenth), cloned, and pushed to a local bare origin. Each trial proposes one change and
pushes a new branch. Beside it, the floor: the same git steps run bare (fetch the base, add a
worktree, write the file, commit, push the branch, remove the worktree), with no policyctl.
Target: one propose under 0.5 s.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _policies import git

ROOT = Path(__file__).resolve().parent.parent
POLICY = (ROOT / "policy" / "policy.yaml").read_text()
COMMITS = 1_000
TRIALS = 7


def _history() -> bytes:
    stream = []
    for n in range(1, COMMITS + 1):
        text = POLICY.replace("version: 1", f"version: {n // 10 + 1}", 1).encode()
        message = f"commit {n}".encode()
        stream.append(b"commit refs/heads/main\n")
        stream.append(f"committer bench <bench@example.com> {1_700_000_000 + n} +0000\n".encode())
        stream.append(f"data {len(message)}\n".encode() + message + b"\n")
        if n == 1 or n % 10 == 0:
            stream.append(f"M 100644 inline policy/policy.yaml\ndata {len(text)}\n".encode())
            stream.append(text + b"\n")
    return b"".join(stream)


def _setup(tmp: Path) -> Path:
    git(tmp, "init", "-q", "--bare", "-b", "main", "origin.git")
    git(tmp / "origin.git", "fast-import", "--quiet", data=_history())
    git(tmp, "clone", "-q", str(tmp / "origin.git"), "work")
    return tmp / "work"


def _floor(work: Path, n: int) -> None:
    tree = work.parent / f"floor{n}"
    git(work, "fetch", "-q", "origin", "refs/heads/main:refs/remotes/origin/main")
    git(work, "worktree", "add", "--detach", "-q", str(tree), "origin/main")
    policy = tree / "policy" / "policy.yaml"
    policy.write_text(policy.read_text().replace("max_positions: 5", f"max_positions: {n % 4 + 1}"))
    git(tree, "commit", "-qam", "floor")
    git(tree, "push", "-q", "origin", f"HEAD:refs/heads/floor/{n}")
    git(work, "worktree", "remove", "--force", str(tree))


def main() -> dict[str, Any]:
    from policyctl import propose  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as name:
        work = _setup(Path(name))
        ours, floor = [], []
        for n in range(TRIALS):
            started = time.perf_counter()
            propose(
                {"max_positions": n % 4 + 1, "model_versions.lstm": f"3.{n + 11}"},
                message=f"bench {n}",
                repo=work,
                branch=f"bench/{n}",
                author="bench <bench@example.com>",
            )
            ours.append(time.perf_counter() - started)
            started = time.perf_counter()
            _floor(work, n)
            floor.append(time.perf_counter() - started)
        commits = int(git(work, "rev-list", "--count", "origin/main").strip())
    result = {
        "commits": commits,
        "propose_s": statistics.median(ours),
        "git_floor_s": statistics.median(floor),
    }
    print(f"propose on a repository of {commits} commits, median of {TRIALS}")
    print(
        f"  policyctl.propose {result['propose_s'] * 1e3:7.1f} ms"
        f"   bare git steps {result['git_floor_s'] * 1e3:7.1f} ms"
        f"   ({result['propose_s'] / result['git_floor_s']:.2f}x)   target < 500 ms"
    )
    return result


if __name__ == "__main__":
    sys.exit(0 if main()["propose_s"] < 0.5 else 1)
