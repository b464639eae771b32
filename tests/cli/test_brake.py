"""policyctl brake: put one on (a new file, after the full pipeline), list, lift, prune; and
validate and show --explain telling what the brakes do."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import policyctl
from policyctl.cli import main

from ..support.git import committed_repo, git
from ..support.policy import VALID

Capture = pytest.CaptureFixture[str]


def _at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy" / "policy.yaml"
    path.parent.mkdir()
    path.write_text(VALID)
    return path


def _overrides(policy: Path) -> list[str]:
    directory = policy.parent / "overrides"
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_a_brake_is_written_and_applied(policy: Path, capsys: Capture) -> None:
    argv = ["brake", "risk_mode=DEFENSIVE", "max_positions=2", "--for", "90m"]
    assert main([*argv, "--reason", "CPI print", "--name", "cpi", str(policy)]) == 0
    out = capsys.readouterr().out
    assert "brake cpi written" in out and "lifts in 1h29m" in out
    assert "tightens  risk_mode: NORMAL -> DEFENSIVE" in out and "max_positions: 5 -> 2" in out
    assert _overrides(policy) == ["cpi.yaml"]
    snap = policyctl.load_policy(policy, env={})
    assert (snap.policy.risk_mode, snap.policy.max_positions) == ("DEFENSIVE", 2)
    assert [b.reason for b in snap.brakes] == ["CPI print"]
    assert 89 * 60 <= (snap.brakes[0].ends - datetime.now(UTC)).total_seconds() <= 90 * 60
    assert main(["show", "--explain", "--no-env", str(policy)]) == 0
    assert "# from brake cpi until" in capsys.readouterr().out


def test_a_scheduled_brake_says_what_it_will_do(policy: Path, capsys: Capture) -> None:
    start = datetime.now(UTC) + timedelta(days=1)
    argv = ["brake", "allowed_symbols=[BTCUSDT]", "model_versions.lstm='3.9'"]
    argv += ["--from", _at(start), "--for", "1h30m", "--reason", "rate decision", str(policy)]
    assert main([*argv, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "dry run: nothing written" in out and "allowed_symbols: - ETHUSDT" in out
    assert "model_versions.lstm: 3.10 -> 3.9" in out and _overrides(policy) == []
    assert main(argv) == 0
    assert policyctl.load_policy(policy, env={}).policy.allowed_symbols == ("BTCUSDT", "ETHUSDT")


_R = "risk_mode=DEFENSIVE"


@pytest.mark.parametrize(
    ("words", "status", "message"),
    [
        (f"{_R} --for 1h", 2, "a brake needs --reason"),
        (f"{_R} --reason x", 2, "say how long the brake lasts"),
        (f"{_R} --for 1h --until 2030-01-01T00:00:00Z --reason x", 2, "one of them"),
        ("opp_rankings.BTCUSDT=0.1 --for 1h --reason x", 2, "a brake cannot set 'opp_rankings"),
        ("version=9 --for 1h --reason x", 2, "a brake cannot set 'version'"),
        (f"{_R} --for 8d --reason x", 1, "more than 7 days from now"),
        (f"{_R} --from 2030-01-01T18:30:00+01:00 --for 1h --reason x", 2, "is not a UTC time"),
        (
            f"{_R} --from 2030-01-01T18:30:00Z --until 2030-01-01T18:00:00Z --reason x",
            1,
            "is not after from",
        ),
        (f"{_R} --until 2030-02-30T18:00:00Z --reason x", 2, "not a real date"),
        (f"{_R} --for soon --reason x", 2, "is not a duration"),
        (f"{_R} --for 1h --reason x --name ../escape", 2, "is not a brake name"),
        ("risk_mode=defensive --for 1h --reason x", 1, "(not written): set.risk_mode"),
        ("risk_mode --for 1h --reason x", 2, "a brake is FIELD=VALUE"),
        ("", 2, "brake takes FIELD=VALUE"),
    ],
)
def test_a_bad_brake_is_refused_and_nothing_written(
    policy: Path, capsys: Capture, words: str, status: int, message: str
) -> None:
    assert main(["brake", *words.split(), str(policy)]) == status
    assert message in capsys.readouterr().err
    assert _overrides(policy) == []
    assert not (policy.parent.parent / "escape.yaml").exists()


def test_a_name_is_never_taken_twice(policy: Path, capsys: Capture) -> None:
    argv = ["brake", "max_positions=3", "--for", "1h", "--reason", "x", "--name", "calm"]
    assert main([*argv, str(policy)]) == 0
    before = (policy.parent / "overrides" / "calm.yaml").read_text()
    assert main([*argv, str(policy)]) == 2
    assert "a brake named 'calm' exists already" in capsys.readouterr().err
    assert (policy.parent / "overrides" / "calm.yaml").read_text() == before


def _put(policy: Path, name: str, start: datetime | None, until: datetime) -> None:
    start_line = f'from: "{_at(start)}"\n' if start else ""
    directory = policy.parent / "overrides"
    directory.mkdir(exist_ok=True)
    (directory / f"{name}.yaml").write_text(
        f'reason: "{name} reason"\n{start_line}until: "{_at(until)}"\nset: {{max_positions: 3}}\n'
    )


def test_list_lift_and_prune(policy: Path, capsys: Capture) -> None:
    now = datetime.now(UTC)
    _put(policy, "active", None, now + timedelta(hours=2))
    _put(policy, "later", now + timedelta(days=1), now + timedelta(days=1, hours=1))
    _put(policy, "old", now - timedelta(days=1), now - timedelta(hours=1))
    assert main(["brake", "list", "--format", "json", str(policy)]) == 0
    rows = json.loads(capsys.readouterr().out)["brakes"]
    assert [(r["name"], r["state"]) for r in rows] == [
        ("active", "active"),
        ("later", "scheduled"),
        ("old", "expired"),
    ]
    assert main(["brake", "list", str(policy)]) == 0
    text = capsys.readouterr().out
    assert "active reason [max_positions=3]" in text and "1h59m" in text

    assert main(["validate", str(policy)]) == 0
    assert "old.yaml: warning: expired at" in capsys.readouterr().out

    assert main(["brake", "lift", "active", str(policy)]) == 0
    assert "loosens   max_positions: 3 -> 5" in capsys.readouterr().out
    lifted = (policy.parent / "overrides" / "active.yaml").read_text()
    assert 'reason: "active reason"' in lifted  # the file stays, ended now, to be committed
    assert policyctl.load_policy(policy, env={}).policy.max_positions == 5
    assert main(["brake", "lift", "later", str(policy)]) == 0  # never started: removed
    assert main(["brake", "lift", "old", str(policy)]) == 2
    assert main(["brake", "lift", "nope", str(policy)]) == 2
    err = capsys.readouterr().err
    assert "already lifted" in err and "no brake named 'nope'" in err

    assert main(["brake", "prune", "--dry-run", str(policy)]) == 0
    assert _overrides(policy) == ["active.yaml", "old.yaml"]
    assert main(["brake", "prune", str(policy)]) == 0
    assert _overrides(policy) == []


def test_list_says_which_files_are_as_committed(tmp_path: Path, capsys: Capture) -> None:
    policy = committed_repo(tmp_path / "repo", VALID) / "policy" / "policy.yaml"
    until = datetime.now(UTC) + timedelta(hours=2)
    _put(policy, "outside", None, until)  # not a repository yet: unknown, never guessed
    (tmp_path / "repo" / ".git").rename(tmp_path / "git")
    assert main(["brake", "list", "--format", "json", str(policy)]) == 0
    assert [r["in_git"] for r in json.loads(capsys.readouterr().out)["brakes"]] == [None]
    (tmp_path / "git").rename(tmp_path / "repo" / ".git")
    git(tmp_path / "repo", "add", "-A")
    git(tmp_path / "repo", "commit", "-qm", "outside")
    _put(policy, "edited", None, until)
    git(tmp_path / "repo", "add", "-A")
    git(tmp_path / "repo", "commit", "-qm", "edited")
    _put(policy, "new", None, until)  # written, not committed
    edited = policy.parent / "overrides" / "edited.yaml"
    edited.write_text(edited.read_text().replace("edited reason", "other reason"))
    _put(policy, "ignored", None, until)
    (tmp_path / "repo" / ".gitignore").write_text("policy/overrides/ignored.yaml\n")
    assert main(["brake", "list", "--format", "json", str(policy)]) == 0
    rows = json.loads(capsys.readouterr().out)["brakes"]
    assert {r["name"]: r["in_git"] for r in rows} == {
        "edited": False, "ignored": False, "new": False, "outside": True,
    }  # fmt: skip
    assert main(["brake", "list", str(policy)]) == 0
    text = capsys.readouterr().out.splitlines()
    assert [line.endswith("(not in git)") for line in text[1:]] == [True, True, True, False]


def test_validate_warns_about_brakes_that_do_nothing(policy: Path, capsys: Capture) -> None:
    directory = policy.parent / "overrides"
    directory.mkdir()
    until = _at(datetime.now(UTC) + timedelta(hours=1))
    (directory / "loose.yaml").write_text(
        f'reason: "x"\nuntil: "{until}"\nset: {{risk_mode: AGGRESSIVE, allowed_symbols: [DOGE]}}\n'
    )
    assert main(["validate", "--format", "github", str(policy)]) == 0
    out = capsys.readouterr().out
    assert (
        f"::warning file={directory / 'loose.yaml'},title=policyctl::risk_mode AGGRESSIVE is looser"
        in out
    )
    assert "allowed_symbols names DOGE, which the policy does not allow" in out


def test_an_invalid_brake_fails_validate_with_its_location(policy: Path, capsys: Capture) -> None:
    directory = policy.parent / "overrides"
    directory.mkdir()
    (directory / "bad.yaml").write_text(
        'reason: "x"\nuntil: "2030-01-01T00:00:00Z"\nset: {version: 3}\n'
    )
    assert main(["validate", str(policy)]) == 1
    assert (
        f"{directory / 'bad.yaml'}:3:7: set.version: 'version' cannot be set"
        in capsys.readouterr().out
    )


def test_validate_checks_one_override_file_on_its_own(policy: Path, capsys: Capture) -> None:
    directory = policy.parent / "overrides"
    directory.mkdir()
    good, bad = directory / "good.yaml", directory / "bad.yaml"
    good.write_text('reason: "x"\nuntil: "2020-01-01T00:00:00Z"\nset: {max_positions: 2}\n')
    bad.write_text('reason: "x"\nuntil: "2030-01-01T00:00:00Z"\nset: {opp_rankings: {}}\n')
    assert main(["validate", str(good)]) == 0
    out = capsys.readouterr().out
    assert f"{good}: valid (a brake)" in out and "expired at 2020-01-01T00:00:00Z" in out
    assert main(["validate", str(bad)]) == 1
    assert f"{bad}:3:7: set.opp_rankings:" in capsys.readouterr().out


def _expired(directory: Path, count: int) -> None:
    directory.mkdir(exist_ok=True)
    for n in range(count):
        (directory / f"old-{n:02d}.yaml").write_text(
            'reason: old\nfrom: "2020-01-01T00:00:00Z"\nuntil: "2020-01-02T00:00:00Z"\n'
            "set: {max_positions: 2}\n"
        )


def test_expired_brakes_make_room_for_a_new_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(VALID)
    _expired(tmp_path / "overrides", 64)
    argv = ["brake", "max_positions=2", "--for", "1h", "--reason", "r", str(policy)]
    assert main(argv) == 0
    assert main(["validate", str(policy)]) == 0  # never one file too many for a reader
    remaining = sorted(p.name for p in (tmp_path / "overrides").iterdir())
    assert len(remaining) == 1 and not remaining[0].startswith("old-")


def test_the_brake_limit_is_checked_where_a_brake_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(VALID)
    brakes = tmp_path / "overrides"
    brakes.mkdir()
    for n in range(64):
        (brakes / f"live-{n:02d}.yaml").write_text(
            'reason: live\nuntil: "2999-01-01T00:00:00Z"\nfrom: "2998-12-31T00:00:00Z"\n'
            "set: {max_positions: 2}\n"
        )
    before = sorted(brakes.iterdir())
    capsys.readouterr()
    argv = ["brake", "max_positions=2", "--for", "1h", "--reason", "r", str(policy)]
    assert main(argv) == 2
    assert "64 brakes are in force or scheduled" in capsys.readouterr().err
    assert sorted(brakes.iterdir()) == before


@pytest.mark.parametrize("name", ["cpi.YAML", "cpi.json", "notes.txt", "sub"])
def test_every_entry_of_the_brakes_directory_is_a_brake_or_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(VALID)
    brakes = tmp_path / "overrides"
    brakes.mkdir()
    (brakes / "README.md").write_text("what these are\n")  # ignored, as the README says
    (brakes / ".cpi.yaml.swp").write_text("")  # hidden: ignored
    assert main(["validate", str(policy)]) == 0
    if name == "sub":
        (brakes / name).mkdir()
    else:
        (brakes / name).write_text("reason: x\n")
    capsys.readouterr()
    assert main(["validate", str(policy)]) == 2
    assert f"{name!r} is not a brake file" in capsys.readouterr().out


def test_a_reason_is_any_printable_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(VALID)
    argv = ["brake", "max_positions=2", "--for", "1h", "--reason", "CPI 🚀 print", str(policy)]
    assert main(argv) == 0
    (written,) = (tmp_path / "overrides").iterdir()
    assert policyctl.load_policy(policy, env={}).brakes[0].reason == "CPI 🚀 print"
    assert "🚀" in written.read_text(encoding="utf-8")


@pytest.mark.parametrize("character", ["\u061c", "\ufeff"])
def test_invisible_direction_marks_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], character: str
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(VALID)
    assert main(["set", "model_versions.x", f"a{character}b", str(policy)]) == 1
    assert f"U+{ord(character):04X}" in capsys.readouterr().err
    assert policy.read_text() == VALID


def test_an_argument_that_is_not_utf8_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(VALID)
    not_utf8 = b"\xff".decode("utf-8", "surrogateescape")  # what Python makes of such argv
    assert main(["set", "model_versions.x", not_utf8, str(policy)]) == 2
    assert "is not UTF-8 text" in capsys.readouterr().err
    assert policy.read_text() == VALID
