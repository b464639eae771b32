"""policyctl audit over a long history: 10,000 commits, beside the floor of reading it at all.

Run: .venv/bin/python benchmarks/bench_audit.py    (or `make bench`)

A repository of 10,000 commits is made with `git fast-import` (each commit changes a limit of
policy/policy.yaml and bumps its version; one in 25 adds or removes a temporary adjustment or a
brake). Timed, best of 3 after a warm-up: `policyctl audit --format json` (the whole history,
every row) against `git log -p -- policy/` (git reading every change of the policy directory:
the floor the issue names), and beside it the floor of this tool's own definition of valid:
each version read by one `git cat-file --batch` and parsed by the strict YAML reader alone (no
model, no diff). Targets: audit <= 5 s and <= 2x `git log -p`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POLICY = (ROOT / "policy" / "policy.yaml").read_text()
COMMITS = 10_000
BIN = Path(sys.executable).parent
ENV = {
    **os.environ,
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}
STAMP = "%Y-%m-%dT%H:%M:%SZ"


def _blob(text: str) -> bytes:
    data = text.encode()
    return b"data %d\n" % len(data) + data + b"\n"


def make_history(repo: Path, commits: int = COMMITS) -> None:
    """``commits`` commits on main, written by one fast-import stream."""
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True, env=ENV)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    stream = bytearray()
    authors = ["alice", "bob", "carol", "dave"]
    for n in range(commits):
        when = start + timedelta(hours=n)
        positions = 3 + (n % 5)
        text = POLICY.replace("version: 1", f"version: {n + 1}").replace(
            "max_positions: 5", f"max_positions: {positions}"
        )
        who = authors[n % len(authors)]
        stream += b"commit refs/heads/main\n"
        stream += f"committer {who} <{who}@desk.example> {int(when.timestamp())} +0000\n".encode()
        stream += _blob(f"limit change {n}\n\nwhy: step {n}")
        stream += b"M 100644 inline policy/policy.yaml\n" + _blob(text)
        if n % 25 == 5:
            until = (when + timedelta(hours=3)).strftime(STAMP)
            body = (
                f'kind: adjustment\nreason: "rebalance {n}"\nticket: "RISK-{n}"\n'
                f'from: "{when.strftime(STAMP)}"\nuntil: "{until}"\n'
                "set: {max_risk_per_trade: 0.02}\n"
            )
            stream += f"M 100644 inline policy/overrides/a{n}.yaml\n".encode() + _blob(body)
        if n % 25 == 6:
            stream += f"D policy/overrides/a{n - 1}.yaml\n".encode()  # lifted early
        if n % 25 == 15:
            until = (when + timedelta(hours=2)).strftime(STAMP)
            body = f'reason: "cpi {n}"\nuntil: "{until}"\nset: {{risk_mode: DEFENSIVE}}\n'
            stream += f"M 100644 inline policy/overrides/b{n}.yaml\n".encode() + _blob(body)
        stream += b"\n"
    subprocess.run(
        ["git", "fast-import", "--quiet"], input=bytes(stream), cwd=repo, check=True, env=ENV
    )
    subprocess.run(["git", "checkout", "-q", "main"], cwd=repo, check=True, env=ENV)


_READ_ALL = """
import subprocess
from policyctl.pipeline import parse_yaml
shas = subprocess.run(["git", "rev-list", "HEAD"], capture_output=True, text=True).stdout.split()
wanted = "".join(f"{s}:policy/policy.yaml\\n" for s in shas).encode()
out = subprocess.run(["git", "cat-file", "--batch"], input=wanted, capture_output=True).stdout
position = 0
for _ in shas:
    end = out.index(b"\\n", position)
    size = int(out[position:end].split()[2])
    parse_yaml(out[end + 1 : end + 1 + size])
    position = end + 1 + size + 1
"""


def best(argv: list[str], repo: Path, rounds: int = 3) -> float:
    subprocess.run(argv, cwd=repo, check=True, env=ENV, stdout=subprocess.DEVNULL)  # warm-up
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        subprocess.run(argv, cwd=repo, check=True, env=ENV, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return min(times)


def rows(commits: int = COMMITS) -> list[dict[str, object]]:
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        made = time.perf_counter()
        make_history(repo, commits)
        print(f"made {commits} commits in {time.perf_counter() - made:.1f} s", file=sys.stderr)
        floor = best(["git", "log", "-p", "--", "policy/"], repo)
        read_all = best([sys.executable, "-c", _READ_ALL], repo)
        audit = best([str(BIN / "policyctl"), "audit", "--format", "json"], repo)
    return [
        {
            "name": f"audit of {commits} commits",
            "seconds": round(audit, 2),
            "floor (git log -p -- policy/)": round(floor, 2),
            "ratio": round(audit / floor, 2),
            "each version through the strict reader alone": round(read_all, 2),
            "target": "<= 5 s and <= 2x the floor",
        }
    ]


def main() -> dict[str, object]:
    """The figures, printed and returned (for run.py)."""
    (row,) = rows()
    for key, value in row.items():
        print(f"  {key}: {value}")
    return row


if __name__ == "__main__":
    for row in rows(int(sys.argv[1]) if len(sys.argv) > 1 else COMMITS):
        print(row)
