"""Untrusted text never reaches a terminal, a CI log or a markdown summary unescaped.

Any string, in any string field: if the policy is valid, every command and format prints no
control character but the newlines the format itself writes, and a markdown table keeps its
shape; if it is refused, the error output is just as clean.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

import policyctl
from policyctl.cli import main

from ..support.git import committed_repo, git
from ..support.policy import VALID, policy_data

Capture = pytest.CaptureFixture[str]
UNSAFE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b\u200e\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069]"
)
CONTROLS = "\x1b\r\n\x00\x85\u2028\u202e\u200b\u2060"
MARKUP = "`|*_<>%:,\\[]#&"  # printable, so valid in a brake's reason, but markup somewhere
VERSION_MARKUP = "_+.-"  # a model version's own characters that are markup somewhere
ORDINARY = "Ab1.- é"
# Text made of what does harm: control characters (which must be refused) and markup (which
# must be escaped), with enough ordinary characters that some of it passes the field rules.
TEXT = st.one_of(
    st.text(alphabet=st.sampled_from(MARKUP + ORDINARY), min_size=1, max_size=12),
    st.text(alphabet=st.sampled_from(CONTROLS + MARKUP + ORDINARY), max_size=12),
)


def _clean(output: str) -> None:
    assert not UNSAFE.search(output), repr(output)


def _run(capsys: Capture, *argv: str) -> str:
    main(list(argv))
    captured = capsys.readouterr()
    _clean(captured.out)
    _clean(captured.err)
    return captured.out


# A valid model version that is as much markup as the version's character set allows.
MARKED_UP = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from("Ab1"),
    st.text(alphabet=st.sampled_from(VERSION_MARKUP + "Ab1"), max_size=11),
)


def _or_hostile(good: str) -> st.SearchStrategy[str]:
    return st.one_of(st.just(good), TEXT)


@st.composite
def any_policies(draw: st.DrawFn) -> dict[str, Any]:
    """Each string field either a good value or hostile text: mostly refused policies."""
    symbol = draw(_or_hostile("SOLUSDT"))
    data = policy_data(
        allowed_symbols=["BTCUSDT", symbol],
        allowed_strategies=["trend_follow", draw(_or_hostile("breakout"))],
        opp_rankings={symbol: 0.5},
        model_versions={"lstm": draw(TEXT), draw(_or_hostile("gru")): draw(TEXT)},
        risk_mode=draw(_or_hostile("AGGRESSIVE")),
        version=4,
    )
    if draw(st.booleans()):
        data["last_updated"] = draw(_or_hostile("2026-11-28T10:00:00Z"))
    return data


@st.composite
def valid_policies(draw: st.DrawFn) -> dict[str, Any]:
    """Valid policies whose model versions (the freest text a policy holds) are the worst
    printable text: markup characters of every format."""
    return policy_data(
        version=4,
        risk_mode="AGGRESSIVE",
        model_versions={"lstm": draw(MARKED_UP), "gru": draw(MARKED_UP)},
    )


def _cells(markdown: str) -> list[list[str]]:
    """The table's rows as a reader sees them: each cell's text, code and references decoded."""
    rows: list[list[str]] = []
    in_cell = False
    for token in MarkdownIt("commonmark").enable("table").parse(markdown):
        if token.type == "tr_open":
            rows.append([])
        elif token.type in ("td_open", "th_open"):
            in_cell = True
            rows[-1].append("")
        elif token.type in ("td_close", "th_close"):
            in_cell = False
        elif token.type == "inline" and in_cell:
            kept = [c.content for c in token.children or [] if c.type in ("text", "code_inline")]
            rows[-1][-1] = "".join(kept)
    return rows


def _markdown_table_is_whole(markdown: str, values: list[str]) -> None:
    rows = _cells(markdown)
    assert rows and {len(r) for r in rows} == {4}, (rows, markdown)
    cells = [cell for row in rows for cell in row]
    for value in values:  # each value whole in one cell: never split, closed or marked up
        assert value in cells, (value, cells)


def _files(tmp: str, data: dict[str, Any]) -> tuple[Path, Path]:
    base = Path(tmp) / "base.yaml"
    base.write_text(json.dumps(policy_data(version=3)))
    head = Path(tmp) / "head.yaml"
    head.write_text(json.dumps(data))  # JSON is YAML: every string double-quoted, escaped
    return base, head


_SETTINGS = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_SETTINGS
@given(data=any_policies())
def test_validate_output_of_any_policy_is_clean(data: dict[str, Any], capsys: Capture) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        _, head = _files(tmp, data)
        try:
            policyctl.load_policy(head, env={})
        except policyctl.PolicyError:
            valid = False
        else:
            valid = True
        for fmt in ("text", "json", "github"):
            out = _run(capsys, "validate", str(head), "--format", fmt)
            if fmt == "github" and not valid:
                assert all(line.startswith("::error ") for line in out.splitlines()), out


@pytest.mark.slow  # a sweep: every command and format, 50 policies (validate's stays quick)
@_SETTINGS
@given(data=valid_policies())
def test_every_output_of_a_valid_policy_is_clean(data: dict[str, Any], capsys: Capture) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base, head = _files(tmp, data)
        policyctl.load_policy(head, env={})  # valid by construction; raises if not
        for fmt in ("text", "json", "github"):
            _run(capsys, "validate", str(head), "--format", fmt)
        for argv in (["show"], ["show", "--explain"], ["show", "--format", "json", "--explain"]):
            _run(capsys, *argv, str(head))
        _run(capsys, "get", "model_versions", str(head))
        sides = ["--base-file", str(base), "--head-file", str(head)]
        for fmt in ("text", "json"):
            _run(capsys, "diff", *sides, "--format", fmt)
        markdown = _run(capsys, "diff", *sides, "--format", "markdown")
        _markdown_table_is_whole(markdown, list(data["model_versions"].values()))


@pytest.mark.slow  # real git: two commits in a new repository per example
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=valid_policies(), text=TEXT)
def test_the_log_of_hostile_commits_is_clean(
    data: dict[str, Any], text: str, capsys: Capture
) -> None:
    """The audit trail prints commit text too: an author and a subject are someone's words."""
    subject = "x" + text.replace("\0", "")  # git refuses NUL and an empty message itself
    with tempfile.TemporaryDirectory() as tmp:
        _log_is_clean(Path(tmp), data, subject, capsys)


def _log_is_clean(tmp: Path, data: dict[str, Any], subject: str, capsys: Capture) -> None:
    repo = tmp / "repo"
    (repo / "policy").mkdir(parents=True)
    env = {"GIT_AUTHOR_NAME": f"ev{subject}il", "GIT_AUTHOR_EMAIL": "e@example.com"}
    git(repo, "init", "-q", "-b", "main")
    (repo / "policy" / "policy.yaml").write_text(json.dumps(policy_data(version=3)))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", subject, env=env)
    (repo / "policy" / "policy.yaml").write_text(json.dumps(data))
    git(repo, "commit", "-qam", f"{subject}\n\nbody", env=env)
    cwd = Path.cwd()
    os.chdir(repo)
    try:
        for fmt in ("text", "json"):
            _run(capsys, "log", "--format", fmt)
    finally:
        os.chdir(cwd)


def test_hostile_text_outside_the_policy_is_escaped(tmp_path: Path, capsys: Capture) -> None:
    """File names and labels are untrusted too: a newline in a name is not a second line."""
    name = tmp_path / "evil\n::warning::x\x1b[2K.yaml"
    name.write_text(json.dumps(policy_data(model_versions={"lstm": "v1\x1b[2K"})))
    out = _run(capsys, "validate", str(name))
    assert out.count("\n") == 2  # one issue line, one summary line
    assert "evil\\n::warning::x\\x1b[2K.yaml" in out
    out = _run(capsys, "validate", str(name), "--format", "github")
    assert out.count("\n") == 1 and out.startswith("::error file=")


def test_markdown_cells_hold_backticks_and_pipes(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A brake's reason is free text, and the diff's markdown puts it in a table cell."""
    repo = committed_repo(tmp_path / "repo", VALID)
    monkeypatch.chdir(repo)
    reasons = ["a`b", "x|y", "``z``", "*bold* <b>", "[l](http://x) &amp; #h"]
    (repo / "policy" / "overrides").mkdir()
    until = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for number, reason in enumerate(reasons):
        brake = {"reason": reason, "until": until, "set": {"max_positions": 4 - number % 2}}
        (repo / "policy" / "overrides" / f"b{number}.yaml").write_text(json.dumps(brake))
    markdown = _run(capsys, "diff", "HEAD", "--format", "markdown")
    _markdown_table_is_whole(markdown, reasons)
