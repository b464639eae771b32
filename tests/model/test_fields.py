"""The PATH grammar, in one place: ``field``, ``field.key``, ``field[i]``; every command that
takes a PATH reads it through `policyctl.model.parse_path`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policyctl.cli import main
from policyctl.model import parse_path

PACKAGE = Path(__file__).parents[2] / "policyctl"


@pytest.mark.parametrize(
    ("text", "field", "key", "index", "parts"),
    [
        ("risk_mode", "risk_mode", None, None, ("risk_mode",)),
        ("model_versions.lstm", "model_versions", "lstm", None, ("model_versions", "lstm")),
        ("opp_rankings.BRK.B", "opp_rankings", "BRK.B", None, ("opp_rankings", "BRK.B")),
        ("model_versions.", "model_versions", "", None, ("model_versions",)),
        ("allowed_symbols[1]", "allowed_symbols", None, 1, ("allowed_symbols", 1)),
        ("allowed_symbols[-1]", "allowed_symbols", None, -1, ("allowed_symbols", -1)),
        # not an index: ten digits, other scripts' digits, nothing inside
        ("allowed_symbols[1234567890]", "allowed_symbols[1234567890]", None, None, None),
        ("allowed_symbols[\u0661]", "allowed_symbols[\u0661]", None, None, None),
        ("allowed_symbols[]", "allowed_symbols[]", None, None, None),
    ],
)
def test_the_grammar(
    text: str, field: str, key: str | None, index: int | None, parts: tuple[object] | None
) -> None:
    path = parse_path(text)
    assert (path.field, path.key, path.index) == (field, key, index)
    if parts is not None:
        assert path.parts == parts


@given(st.text(max_size=200))
def test_any_text_is_a_path_or_nothing_worse(text: str) -> None:
    path = parse_path(text)
    assert path.text == text and "." not in path.field
    assert path.index is None or abs(path.index) < 10**9


def test_a_huge_index_is_refused_by_the_commands(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text((PACKAGE.parent / "policy" / "policy.yaml").read_text())
    before = policy.read_bytes()
    assert main(["get", "allowed_symbols[" + "9" * 5000 + "]", str(policy)]) == 2
    assert main(["unset", "allowed_symbols[" + "9" * 5000 + "]", str(policy)]) == 2
    assert policy.read_bytes() == before


def test_no_module_splits_a_path_by_hand() -> None:
    """The grammar's one owner: nothing else partitions a PATH at its dot."""
    offenders = []
    for module in PACKAGE.rglob("*.py"):
        if module.name == "_fields.py":
            continue
        for node in ast.walk(ast.parse(module.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("partition", "split")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and node.args[0].value == "."
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in ("path", "field_path")
            ):
                offenders.append(f"{module.relative_to(PACKAGE)}:{node.lineno}")
    assert not offenders, offenders


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["get", "allowed_symbols."], "nothing after the dot"),
        (["get", "allowed_symbols[9999999999]"], "allowed_symbols has no item"),
        (["set", "allowed_symbols.0", "X"], "name one item as allowed_symbols[N]"),
        (["set", "risk_mode.", "DEFENSIVE"], "so set the whole field"),
    ],
)
def test_each_command_says_what_a_path_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], said: str
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text((PACKAGE.parent / "policy" / "policy.yaml").read_text())
    assert main([*argv, str(policy)]) == 2
    assert said in capsys.readouterr().err
