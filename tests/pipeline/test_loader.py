"""load_policy and PolicySnapshot: the pipeline end to end, and its error classes."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import policyctl
from policyctl.pipeline import build_snapshot

from ..support.policy import VALID, Writer


def test_snapshot(write: Writer) -> None:
    path = write()
    before = datetime.now(UTC)
    snap = policyctl.load_policy(path, env={})
    assert snap.version == 7 == snap.policy.version
    assert snap.digest == hashlib.sha256(VALID.encode()).hexdigest()
    assert snap.source == path
    assert snap.env == {}
    assert snap.loaded_at.tzinfo is not None and snap.loaded_at >= before
    with pytest.raises(AttributeError):
        snap.version = 8  # type: ignore[misc]


def test_missing_file_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(policyctl.PolicySourceError, match="no such file") as e:
        policyctl.load_policy(tmp_path / "nope.yaml", env={})
    assert e.value.issues[0].source == str(tmp_path / "nope.yaml")


def test_directory_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(policyctl.PolicySourceError, match="directory"):
        policyctl.load_policy(tmp_path, env={})


def test_every_error_of_a_file_is_reported_sorted(write: Writer) -> None:
    text = VALID.replace("max_positions: 5", "max_positions: true").replace(
        "version: 7", "version: 0"
    )
    with pytest.raises(policyctl.PolicyValidationError) as e:
        policyctl.load_policy(write(text), env={})
    assert [(i.line, i.path) for i in e.value.issues] == [
        (2, ("version",)),
        (7, ("max_positions",)),
    ]
    assert (
        str(e.value)
        .splitlines()[0]
        .endswith(
            "policy.yaml:2:10: version: 0 is out of range;"
            " valid: a whole number from 1 to 2147483647, raised by every"
            " change"
        )
    )


def test_errors_are_policy_errors_and_carry_issues(write: Writer) -> None:
    for cls in (
        policyctl.PolicySourceError,
        policyctl.PolicySyntaxError,
        policyctl.PolicyValidationError,
        policyctl.PolicyEnvError,
    ):
        assert issubclass(cls, policyctl.PolicyError)
    with pytest.raises(policyctl.PolicySyntaxError) as e:
        policyctl.load_policy(write("a: [\n"), env={})
    assert e.value.issues[0].source == str(write("a: [\n"))


def test_build_snapshot_from_bytes_names_the_given_source() -> None:
    snap = build_snapshot(VALID.encode(), Path("HEAD:policy/policy.yaml"), env={})
    assert snap.source == Path("HEAD:policy/policy.yaml")
    with pytest.raises(policyctl.PolicyValidationError, match=r"^HEAD:policy/policy.yaml:2:10: "):
        build_snapshot(VALID.replace("7", "0").encode(), Path("HEAD:policy/policy.yaml"), env={})


_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "version": st.integers(-2, 10) | st.floats() | st.booleans() | st.text(max_size=3),
        "risk_mode": st.sampled_from(["NORMAL", "normal", "PANIC", "DEFENSIVE"]) | st.integers(),
        "allowed_strategies": st.lists(st.text(max_size=5), max_size=3) | st.none(),
        "allowed_symbols": st.lists(st.sampled_from(["BTCUSDT", "ETHUSDT", "x y", ""]), max_size=3),
        "max_risk_per_trade": st.floats() | st.integers(-1, 2),
        "max_positions": st.integers(-1, 200) | st.floats(),
        "global_min_confidence": st.floats() | st.text(max_size=3),
        "opp_rankings": st.dictionaries(st.sampled_from(["BTCUSDT", "DOGE"]), st.floats()),
        "model_versions": st.dictionaries(st.text(max_size=4), st.text(max_size=4) | st.floats()),
        "last_updated": st.text(max_size=25) | st.none(),
        "extra": st.integers(),
    },
)


@pytest.mark.slow  # a sweep: 300 generated examples
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_FIELDS)
def test_any_yaml_shaped_policy_gives_a_snapshot_or_a_policy_error(data: dict[str, object]) -> None:
    text = json.dumps(data, ensure_ascii=False)  # NaN and Infinity are plain text to YAML
    try:
        snap = build_snapshot(text.encode(), Path("p.yaml"), env={})
    except policyctl.PolicyError as e:
        assert e.issues
        assert all(i.source == "p.yaml" for i in e.issues)
    else:
        assert snap.policy.max_risk_per_trade * snap.policy.max_positions <= 1 + 1e-9


def test_overrides_dir_is_still_the_brakes_dir(tmp_path: Path) -> None:
    """The keyword's first name, kept for existing callers (load_policy and PolicyStore)."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(VALID)
    (tmp_path / "elsewhere").mkdir()
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    start, until = (datetime.now(UTC) + timedelta(days=d) for d in (2, 3))
    (tmp_path / "elsewhere" / "calm.yaml").write_text(
        f'reason: calm\nuntil: "{until:{stamp}}"\nfrom: "{start:{stamp}}"\n'
        "set: {max_positions: 2}\n"
    )
    snap = policyctl.load_policy(policy, env={}, overrides_dir=tmp_path / "elsewhere")
    assert [b.name for b in snap.brake_files] == ["calm"]
    with policyctl.PolicyStore(
        policy, env={}, watch=False, overrides_dir=tmp_path / "elsewhere"
    ) as store:
        assert [b.name for b in store.current().brake_files] == ["calm"]
    with pytest.raises(TypeError, match="brakes_dir only"):
        policyctl.load_policy(policy, env={}, brakes_dir=tmp_path, overrides_dir=tmp_path)


def test_a_relative_path_not_found_says_where_it_was_looked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(policyctl.PolicySourceError, match=f"looked in {re.escape(str(tmp_path))}"):
        policyctl.load_policy("policy/policy.yaml", env={})
