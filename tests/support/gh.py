"""A stand-in for the GitHub CLI, for running workflow steps here: GitHub's API is not reachable
from this machine. It answers each call from a table (``METHOD path`` -> the answers, given in
turn, the last one repeated) and records every call, so a test asserts what a step asked."""

from __future__ import annotations

import json
import sys
from pathlib import Path

_SCRIPT = """#!{python}
import json, sys
from pathlib import Path
table = Path({table!r})
answers = json.loads(table.read_text())
argv = sys.argv[1:]
with open({log!r}, "a") as log:
    log.write(json.dumps(argv) + "\\n")
if argv[:1] == ["api"]:
    method = argv[argv.index("-X") + 1] if "-X" in argv else "GET"
    path = next(a for a in argv[1:] if not a.startswith("-") and a != method)
    key = method + " " + path
else:
    key = " ".join(argv[:2])
queue = answers.get(key)
if queue is None:
    print("gh stand-in: no answer for " + key, file=sys.stderr)
    raise SystemExit(1)
print(queue[0] if len(queue) == 1 else queue.pop(0))
table.write_text(json.dumps(answers))
"""


class FakeGh:
    """``gh`` on a PATH of its own: `answers` sets what it says, `calls` what it was asked."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.bin, self.table, self.log = directory, directory / "answers.json", directory / "log"
        self.table.write_text("{}")
        self.log.write_text("")
        script = directory / "gh"
        script.write_text(
            _SCRIPT.format(python=sys.executable, table=str(self.table), log=str(self.log))
        )
        script.chmod(0o755)

    def answers(self, table: dict[str, list[str]]) -> None:
        self.table.write_text(json.dumps(table))

    def calls(self) -> list[list[str]]:
        return [json.loads(line) for line in self.log.read_text().splitlines()]
