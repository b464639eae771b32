"""The corpus: every file in cases/invalid/ is refused with its expected line, column and message;
every file in cases/valid/ is accepted. The real check-jsonschema, run on the committed schema,
reaches the same verdicts except where a case says JSON Schema cannot (cross-field rules, 5.0,
NaN, resource limits).

Adding a case is adding a file: line 1 says ``# check-jsonschema: same`` or ``skip: <reason>``,
line 2 says ``# expect: LINE:COL: <start of the message>``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import policyctl
from policyctl.cli import main
from policyctl.pipeline import _reader

CASES = Path(__file__).parents[1] / "cases"
INVALID = sorted((CASES / "invalid").glob("*.yaml"))
VALID = sorted((CASES / "valid").glob("*.yaml"))
ROOT = Path(__file__).parents[2]
SCHEMA = ROOT / "schemas" / "global_policy.schema.json"
_EXPECT = re.compile(rb"^# expect: (\d+):(\d+): (.+)$", re.M)


def _expectation(path: Path) -> tuple[int, int, str]:
    match = _EXPECT.search(path.read_bytes())
    assert match, f"{path.name} has no '# expect: LINE:COL: message' line"
    return int(match[1]), int(match[2]), match[3].decode()


def _checker_agrees(path: Path) -> bool:
    return path.read_bytes().startswith(b"# check-jsonschema: same")


def test_corpus_is_large_enough() -> None:
    assert len(INVALID) >= 40


@pytest.mark.parametrize("case", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_case_is_located(case: Path) -> None:
    line, column, message = _expectation(case)
    with pytest.raises(policyctl.PolicyError) as caught:
        policyctl.load_policy(case, env={})
    first = caught.value.issues[0]
    assert (first.line, first.column) == (line, column), str(caught.value)
    assert first.message.startswith(message), str(caught.value)
    assert first.source == str(case)


@pytest.mark.parametrize("case", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_case_on_the_command_line(case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line, column, _ = _expectation(case)
    assert main(["validate", str(case)]) == 1
    out = capsys.readouterr()
    assert f"{case}:{line}:{column}: " in out.out
    assert "Traceback" not in out.out + out.err


@pytest.mark.parametrize("case", VALID, ids=[p.stem for p in VALID])
def test_valid_case_is_accepted(case: Path) -> None:
    assert policyctl.load_policy(case, env={}).version >= 1


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    padding = b"# " + b"x" * 1000 + b"\n"
    path.write_bytes(padding * (_reader.MAX_BYTES // len(padding) + 1) + b"version: 1\n")
    with pytest.raises(policyctl.PolicySyntaxError, match="over the 4,194,304-byte limit") as e:
        policyctl.load_policy(path, env={})
    assert (e.value.issues[0].line, e.value.issues[0].column) == (1, 1)


def _check_jsonschema(files: list[Path]) -> dict[str, list[str]]:
    """Run the real check-jsonschema once on all files; map each failing file to its paths."""
    exe = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    assert exe, "check-jsonschema is a dev dependency; `make test` installs it"
    result = subprocess.run(
        [exe, "--schemafile", str(SCHEMA), "-o", "JSON", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = json.loads(result.stdout)
    failing: dict[str, list[str]] = {}
    for error in report.get("errors", []):
        failing.setdefault(error["filename"], []).append(error["path"])
    for error in report.get("parse_errors", []):
        failing.setdefault(error["filename"], []).append("")
    return failing


def test_check_jsonschema_reaches_the_same_verdicts() -> None:
    agreeing = [p for p in INVALID if _checker_agrees(p)]
    assert len(agreeing) >= 40
    failing = _check_jsonschema([*agreeing, *VALID, ROOT / "policy" / "policy.yaml"])
    for case in agreeing:
        assert str(case) in failing, f"check-jsonschema accepts {case.name}; policyctl refuses it"
        with pytest.raises(policyctl.PolicyError) as caught:
            policyctl.load_policy(case, env={})
        ours = "$." + policyctl.errors.format_path(caught.value.issues[0].path)
        # Where the checker names a field, it is the field (or a parent of the value) we name.
        for theirs in failing[str(case)]:
            assert not theirs or ours.startswith(theirs.rstrip(".")), (case.name, theirs, ours)
    for case in [*VALID, ROOT / "policy" / "policy.yaml"]:
        assert str(case) not in failing, f"check-jsonschema refuses {case}"


def test_cases_that_differ_do_differ() -> None:
    """Each case marked 'skip' really is one JSON Schema cannot refuse (kept honest)."""
    differing = [
        p for p in INVALID if not _checker_agrees(p) and p.stem != "alias_bomb"
    ]  # check-jsonschema expands the alias bomb for minutes: a resource limit, not a verdict
    assert differing
    failing = _check_jsonschema(differing)
    assert not [p.name for p in differing if str(p) in failing]
