"""The strict reader: YAML 1.2 values exactly as CI's checker (ruamel.yaml) reads them, the
refusals, and the position map."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from check_jsonschema.parsers.yaml import construct_yaml_implementation
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from policyctl import PolicySyntaxError
from policyctl.pipeline import _reader

# ruamel.yaml configured exactly as check-jsonschema configures it (timestamps stay strings).
RUAMEL: YAML = construct_yaml_implementation()


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes", "yes"),
        ("no", "no"),
        ("on", "on"),
        ("off", "off"),
        ("y", "y"),
        ("true", True),
        ("False", False),
        ("TRUE", True),
        ("1e-2", 0.01),
        ("010", 10),
        ("0o17", 15),
        ("0x1F", 31),
        ("0b101", 5),
        ("1_000", 1000),
        ("1:30", "1:30"),
        ("2026-11-27", "2026-11-27"),
        ("2026-11-27T10:00:00Z", "2026-11-27T10:00:00Z"),
        ("3.10", 3.1),
        (".5", 0.5),
        ("1.", 1.0),
        ("-.inf", -math.inf),
        ("~", None),
        ("", None),
        ("null", None),
        ("NULL", None),
        ("nULL", "nULL"),
        ("0X1F", "0X1F"),
        ("+12", 12),
        ("-0", 0),
    ],
)
def test_plain_scalars_read_as_ruamel_reads_them(text: str, expected: object) -> None:
    doc = f"key: {text}\n".encode()
    ours = _reader.parse(doc).data["key"]
    theirs = RUAMEL.load(doc)["key"]
    assert _same(ours, expected)
    assert _same(ours, theirs), (ours, theirs)


def test_nan_reads_as_nan() -> None:
    assert math.isnan(_reader.parse(b"key: .NaN\n").data["key"])


_SCALAR_TEXT = st.one_of(
    st.from_regex(r"\A[-+]?[0-9_]{1,6}(\.[0-9_]{0,4})?([eE][-+]?[0-9]{1,2})?\Z"),
    st.from_regex(r"\A[-+]?0[xob][0-9a-fA-F_]{1,6}\Z"),
    st.from_regex(r"\A[0-9]{1,4}(:[0-9]{1,2}){1,2}\Z"),
    st.sampled_from(["true", "True", "yes", "No", "ON", "~", "null", "Null", ".inf", "-.Inf"]),
    st.from_regex(r"\A[A-Za-z][A-Za-z0-9_.]{0,10}\Z"),
)


@pytest.mark.slow  # a sweep: 300 generated examples
@settings(max_examples=300, deadline=None)
@given(_SCALAR_TEXT)
def test_any_plain_scalar_agrees_with_ruamel(text: str) -> None:
    doc = f"key: {text}\n".encode()
    try:
        theirs = RUAMEL.load(doc)["key"]
    except ValueError:  # ruamel crashes on e.g. '_' (int('')); we must refuse, not crash
        with pytest.raises(PolicySyntaxError):
            _reader.parse(doc)
        return
    assert _same(_reader.parse(doc).data["key"], theirs), text


def test_duplicate_keys_name_both_lines() -> None:
    with pytest.raises(PolicySyntaxError) as e:
        _reader.parse(b"a: 1\nb:\n  x: 1\n  y: 2\n  x: 3\n")
    issue = e.value.issues[0]
    assert (issue.line, issue.column, issue.path) == (5, 3, ("b", "x"))
    assert "first at line 3" in issue.message


def test_duplicate_keys_compare_values_not_spelling() -> None:
    with pytest.raises(PolicySyntaxError, match="duplicate key 'a'"):
        _reader.parse(b"a: 1\n'a': 2\n")


def test_scalar_alias_is_allowed_collection_alias_is_not() -> None:
    assert _reader.parse(b"a: &x 1\nb: *x\n").data == {"a": 1, "b": 1}
    with pytest.raises(PolicySyntaxError, match="alias"):
        _reader.parse(b"a: &x [1]\nb: *x\n")


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(PolicySyntaxError, match="alias"):
        _reader.parse(b"a: &x [1, *x]\n")


def test_deep_nesting_is_refused() -> None:
    with pytest.raises(PolicySyntaxError, match="nesting deeper"):
        _reader.parse(b"a: " + b"[" * 100 + b"]" * 100 + b"\n")


def test_very_deep_flow_nesting_is_a_syntax_error_not_a_crash() -> None:
    with pytest.raises(PolicySyntaxError):
        _reader.parse(b"a: " + b"[" * 100_000 + b"]" * 100_000 + b"\n")


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (b"1: a\n", "keys must be strings"),
        (b"? [a]\n: b\n", "plain string"),
        (b"a: !!int 5\n", "tag !!int is not allowed"),
        (b"a: !!binary aGk=\n", "tag !!binary"),
        (b"a: !!set {x}\n", "tag !!set"),
        (b"a: =\n", "bare '='"),
        (b"a: *nowhere\n", "names no anchor"),
        (b"a: 1\n--- \nb: 2\n", "more than one YAML document"),
        (b"? &k [x]\n: 1\n", "plain string"),
        (b"a: 1_\n", None),
        (b"a: 0b_\n", "looks like a number"),
        (b"a: _\n", None),
        (b"!!python/none\n", "tag"),
        (b"- 1\n", "top level is a list"),
        (b"%YAML 1.2\n--- {a: 1}\n--- {b: 2}\n", "more than one"),
        (b"%YAML 1.1\n--- {a: 010}\n", "directive %YAML 1.1"),
        (b"key: &a:b value\n", "libyaml ends it at ':'"),
        (b"a: [?x]\n", "'?' stuck to text"),
        (b"a: {?b: c}\n", "'?' stuck to text"),
        (b"a: >#c\n  x\n", "needs a space before '#'"),
        (b"a: >\n \n  \n # c\n", "holds 2 spaces, more than that line's 1"),
        (b"a: ! 10\n", "bare '!'"),
        (b"a: &x 1\nb: *x:y\n", "libyaml ends it at ':'"),
        (b"a: 'unterminated\n", "not valid YAML"),
        (b"a: \x00\n", "not valid YAML"),
    ],
)
def test_refusals(doc: bytes, message: str | None) -> None:
    if message is None:  # accepted, and read as ruamel reads it
        assert _reader.parse(doc).data == RUAMEL.load(doc)
        return
    with pytest.raises(PolicySyntaxError, match=message):
        _reader.parse(doc)


@pytest.mark.parametrize("char", ["\u2028", "\u2029", "\x85"])
def test_disputed_line_breaks_are_refused_where_they_stand(char: str) -> None:
    with pytest.raises(PolicySyntaxError, match=f"U\\+{ord(char):04X}") as e:
        _reader.parse(f'a: 1\nb: "x{char}y"\n'.encode())
    assert (e.value.issues[0].line, e.value.issues[0].column) == (2, 6)
    assert _reader.parse(f'b: "x\\u{ord(char):04x}y"\n'.encode()).data == {"b": f"x{char}y"}


def test_bom_is_accepted() -> None:
    assert _reader.parse(b"\xef\xbb\xbfa: 1\n").data == {"a": 1}


def test_position_map() -> None:
    doc = _reader.parse(b"# c\na: 1\nb:\n  - x\n  - y\nc: {k: 'v'}\n")
    assert doc.positions.get(("a",)) == (2, 4)
    assert doc.positions.get(("a",), key=True) == (2, 1)
    assert doc.positions.get(("b", 1)) == (5, 5)
    assert doc.positions.get(("c", "k")) == (6, 8)
    assert doc.positions.text(("c", "k")) == "v"
    assert doc.positions.contains(("b", 1))
    assert not doc.positions.contains(("b", 2))
    assert doc.positions.get(("missing",)) == (2, 1)  # the mapping holding it


# YAML streams hold printable characters only (YAML 1.2 §5.1), and its \u escapes are code
# points, not JSON's UTF-16 surrogate pairs: text is written as UTF-8, printable. U+2028 and
# U+2029 (categories Zl, Zp) are refused on purpose: libyaml reads them as line breaks (YAML
# 1.1), CI's YAML 1.2 reader as characters (see pipeline/_text.py and its corpus case).
_PRINTABLE = st.characters(exclude_categories=("Cs", "Cc", "Cn", "Co", "Zl", "Zp"))
_JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(_PRINTABLE, max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(_PRINTABLE, max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@pytest.mark.slow  # a sweep: 300 generated examples
@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_give_a_document_or_a_syntax_error(data: bytes) -> None:
    try:
        doc = _reader.parse(data)
    except PolicySyntaxError as e:
        assert e.issues and e.issues[0].line is not None
    else:
        assert isinstance(doc.data, dict)


@pytest.mark.slow  # a sweep: 300 generated examples
@settings(max_examples=300, deadline=None)
@given(_JSONISH)
def test_json_is_read_back_as_the_same_data(value: object) -> None:
    """YAML 1.2 is a superset of JSON: any JSON document reads back unchanged."""
    text = json.dumps({"key": value}, ensure_ascii=False).encode()
    assert _reader.parse(text).data == {"key": value}
