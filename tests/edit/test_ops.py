"""add, remove and unset: one item or entry, in the collection's own style, every other byte
kept; anything the splice could not say exactly is refused, never written."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

import policyctl
from policyctl.cli import main
from policyctl.edit import add_item, remove_item_value, unset_path

from ..support.policy import VALID

Capture = pytest.CaptureFixture[str]
BLOCK = (
    VALID.replace(
        "allowed_symbols: [BTCUSDT, ETHUSDT]",
        "allowed_symbols:\n  - BTCUSDT  # core\n  - ETHUSDT\n",
    )
    .replace(
        'model_versions: {xgboost: "v12", lstm: "3.10"}',
        'model_versions:\n  xgboost: "v12"\n  lstm: "3.10"  # pinned\n# after the models',
    )
    .replace(
        "allowed_strategies: [trend_follow, mean_reversion]", "allowed_strategies: [trend_follow]"
    )
)


def _write(tmp_path: Path, text: str, newline: str = "\n") -> Path:
    path = tmp_path / "policy.yaml"
    path.write_bytes(text.replace("\n", newline).encode())
    return path


def _changed(before: str, after: str) -> list[str]:
    """The lines that differ, other than version and last_updated."""
    return [
        line
        for line in difflib.ndiff(before.splitlines(), after.splitlines())
        if line[:2] in ("+ ", "- ") and "version:" not in line and "last_updated" not in line
    ]


@pytest.mark.parametrize("text", [VALID, BLOCK], ids=["flow", "block"])
def test_add_and_remove_keep_the_lists_style(tmp_path: Path, text: str) -> None:
    path = _write(tmp_path, text)
    add_item(path, "allowed_symbols", "SOLUSDT")
    after_add = path.read_text()
    assert policyctl.load_policy(path, env={}).policy.allowed_symbols == (
        "BTCUSDT",
        "ETHUSDT",
        "SOLUSDT",
    )
    if text is BLOCK:
        assert _changed(text, after_add) == ["+   - SOLUSDT"]
    else:
        assert _changed(text, after_add) == [
            "- allowed_symbols: [BTCUSDT, ETHUSDT]",
            "+ allowed_symbols: [BTCUSDT, ETHUSDT, SOLUSDT]",
        ]
    remove_item_value(path, "allowed_symbols", "SOLUSDT")
    assert _changed(text, path.read_text()) == []


def test_unset_a_map_entry_in_block_and_flow(tmp_path: Path) -> None:
    for text in (VALID, BLOCK):
        path = _write(tmp_path, text)
        unset_path(path, "model_versions.lstm")
        snap = policyctl.load_policy(path, env={})
        assert dict(snap.policy.model_versions) == {"xgboost": "v12"}
        assert "# after the models" in path.read_text() or text is VALID


def test_the_last_item_leaves_an_empty_collection(tmp_path: Path) -> None:
    path = _write(tmp_path, BLOCK)
    remove_item_value(path, "allowed_strategies", "trend_follow")
    unset_path(path, "model_versions.lstm")
    unset_path(path, "model_versions.xgboost")
    snap = policyctl.load_policy(path, env={})
    assert snap.policy.allowed_strategies == () and dict(snap.policy.model_versions) == {}
    assert "allowed_strategies: []" in path.read_text()
    assert "model_versions: {}\n# after the models" in path.read_text()


def test_index_paths_and_crlf(tmp_path: Path) -> None:
    path = _write(tmp_path, BLOCK, "\r\n")
    add_item(path, "allowed_symbols", "SOLUSDT")
    add_item(path, "allowed_symbols", "DOTUSDT")
    unset_path(path, "allowed_symbols[2]")
    data = path.read_bytes()
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert policyctl.load_policy(path, env={}).policy.allowed_symbols == (
        "BTCUSDT",
        "ETHUSDT",
        "DOTUSDT",
    )


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["add", "allowed_symbols", "BTCUSDT"], "already in allowed_symbols"),
        (["remove", "allowed_symbols", "DOGEUSDT"], "is not in allowed_symbols"),
        (["add", "model_versions", "x"], "add works on"),
        (["unset", "model_versions.gru"], "names no entry"),
        (["unset", "allowed_symbols[7]"], "names no item"),
        (["unset", "max_positions"], "unset removes a map entry"),
    ],
)
def test_impossible_edits_are_usage_errors(
    tmp_path: Path, argv: list[str], says: str, capsys: Capture
) -> None:
    path = _write(tmp_path, VALID)
    assert main([*argv, str(path)]) == 2
    assert says in capsys.readouterr().err
    assert path.read_text() == VALID


def test_dry_run_writes_nothing(tmp_path: Path, capsys: Capture) -> None:
    path = _write(tmp_path, VALID)
    assert main(["add", "allowed_symbols", "SOLUSDT", str(path), "--dry-run"]) == 0
    assert "loosens   allowed_symbols: + SOLUSDT" in capsys.readouterr().out
    assert path.read_text() == VALID


def test_several_assignments_are_one_change(tmp_path: Path, capsys: Capture) -> None:
    path = _write(tmp_path, VALID)
    argv = ["set", "max_positions=4", 'model_versions.lstm="3.11"', "risk_mode=DEFENSIVE"]
    argv.append(str(path))
    assert main(argv) == 0
    snap = policyctl.load_policy(path, env={})
    assert (snap.version, snap.policy.max_positions, snap.policy.risk_mode) == (8, 4, "DEFENSIVE")
    assert snap.policy.model_versions["lstm"] == "3.11"
    out = capsys.readouterr().out
    assert "version 7 -> version 8" in out and out.count("tightens") == 2


def test_one_bad_assignment_writes_nothing(tmp_path: Path, capsys: Capture) -> None:
    path = _write(tmp_path, VALID)
    assert main(["set", "max_positions=4", "risk_mode=PANIC", str(path)]) == 1
    assert main(["set", "max_positions=4", "max_positions=3", str(path)]) == 2
    assert "is set twice in one change" in capsys.readouterr().err
    assert path.read_text() == VALID


def test_set_a_list_item_by_index(tmp_path: Path) -> None:
    path = _write(tmp_path, BLOCK)
    assert main(["set", "allowed_strategies[0]", "breakout", str(path)]) == 0
    assert main(["set", "allowed_symbols[-1]", "SOLUSDT", str(path)]) == 1  # ETHUSDT is ranked
    assert policyctl.load_policy(path, env={}).policy.allowed_strategies == ("breakout",)
    assert "  - BTCUSDT  # core\n" in path.read_text()
    assert main(["set", "allowed_symbols[9]", "X", str(path)]) == 2
