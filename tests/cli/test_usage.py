"""Usage errors say what was wrong, show the usage line and suggest the near miss."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from policyctl.cli import main
from policyctl.cli._main import COMMANDS

from ..support.git import git
from ..support.policy import VALID, Writer

Capture = pytest.CaptureFixture[str]


def test_a_mistyped_command_gets_a_suggestion_and_the_usage(capsys: Capture) -> None:
    assert main(["valdate"]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'validate'?" in err and "usage: policyctl" in err


def test_a_mistyped_field_gets_a_suggestion(write: Writer, capsys: Capture) -> None:
    assert main(["get", "max_postions", str(write())]) == 2
    assert "did you mean 'max_positions'?" in capsys.readouterr().err


def test_debug_works_after_the_command(
    write: Writer, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("policyctl.cli._show.load_policy", broken)
    assert main(["show", str(write())]) == 3
    with pytest.raises(RuntimeError, match="a bug"):
        main(["show", str(write()), "--debug"])


def test_log_n_must_be_positive(capsys: Capture) -> None:
    assert main(["log", "-n", "0"]) == 2
    assert "'0' is not a whole number of at least 1" in capsys.readouterr().err


def test_schema_write_does_not_create_directories(tmp_path: Path, capsys: Capture) -> None:
    target = tmp_path / "missing" / "schema.json"
    assert main(["schema", "--write", "--path", str(target)]) == 2
    assert "is not a directory; create it first" in capsys.readouterr().err
    assert not target.parent.exists()


def test_log_in_a_repository_without_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    git(tmp_path, "init", "-q")
    (tmp_path / "policy").mkdir()
    (tmp_path / "policy" / "policy.yaml").write_text("version: 1\n")
    monkeypatch.chdir(tmp_path)
    assert main(["log"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "no commits touch this file\n" and "fatal" not in captured.err


def test_reset_asks_for_confirmation_and_can_show_first(write: Writer, capsys: Capture) -> None:
    path = write()
    before = path.read_bytes()
    assert main(["reset", str(path)]) == 2  # no terminal to ask on: --yes or nothing
    assert "confirm with --yes, or see it first with --dry-run" in capsys.readouterr().err
    assert main(["reset", "--dry-run", str(path)]) == 0
    out = capsys.readouterr().out
    assert "(dry run: nothing written)" in out and "-allowed_symbols: [BTCUSDT, ETHUSDT]" in out
    assert path.read_bytes() == before
    assert main(["reset", "--yes", str(path)]) == 0
    assert path.read_bytes() != before


def test_set_dry_run_prints_the_change_and_writes_nothing(write: Writer, capsys: Capture) -> None:
    path = write()
    before = path.read_bytes()
    assert main(["set", "max_positions", "4", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "tightens  max_positions: 5 -> 4" in out and "+max_positions: 4" in out
    assert path.read_bytes() == before


def test_a_bare_policyctl_prints_the_help(capsys: Capture) -> None:
    assert main([]) == 2
    out = capsys.readouterr().out
    assert "exit status: 0 success" in out and "VALUE (set, add, remove)" in out
    assert "validate" in out


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_examples(command: str, capsys: Capture) -> None:
    assert main([command, "--help"]) == 0
    assert f"examples:\n  policyctl {command}" in capsys.readouterr().out


def test_validate_reads_stdin(monkeypatch: pytest.MonkeyPatch, capsys: Capture) -> None:
    import io  # noqa: PLC0415

    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"version: [\n")))
    assert main(["validate", "-"]) == 1
    assert capsys.readouterr().out.startswith("<stdin>:2:1: not valid YAML")


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_is_generated_from_the_parser(shell: str, capsys: Capture) -> None:
    assert main(["completion", shell]) == 0
    script = capsys.readouterr().out
    assert "policyctl" in script and "validate" in script and "--require-bump" in script


def test_colour_only_where_asked(
    write: Writer, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = write(name="base.yaml")
    head = write(
        VALID.replace("version: 7", "version: 8").replace("positions: 5", "positions: 9"),
        name="head.yaml",
    )
    sides = ["--base-file", str(base), "--head-file", str(head)]
    assert main(["--color", "always", "diff", *sides]) == 0
    assert "  \x1b[31mloosens\x1b[0m   max_positions: 5 -> 9" in capsys.readouterr().out
    assert main(["diff", *sides]) == 0  # auto, and the output is not a terminal
    assert "\x1b" not in capsys.readouterr().out
    monkeypatch.setenv("NO_COLOR", "1")
    assert main(["--color", "never", "diff", *sides]) == 0
    assert "\x1b" not in capsys.readouterr().out


def test_a_value_can_never_become_a_colour_code(write: Writer, capsys: Capture) -> None:
    base = write(name="base.yaml")
    hostile = VALID.replace("version: 7", "version: 8").replace('"3.10"', '"\\\\x1b[31mloosens"')
    head = write(hostile, name="head.yaml")  # refused (no such version), and echoed in the error
    assert (
        main(["--color", "always", "diff", "--base-file", str(base), "--head-file", str(head)]) == 1
    )
    captured = capsys.readouterr()
    assert "\\\\x1b[31mloosens" in captured.out + captured.err  # the text stays text
    assert "\x1b[31mloosens" not in captured.out + captured.err


def test_global_options_after_the_command_and_the_command_s_own_usage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(VALID)
    assert main(["validate", str(policy), "--color", "never"]) == 0
    capsys.readouterr()
    assert main(["validate", str(policy), "--colr", "never"]) == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments: --colr never" in err and "usage: policyctl validate" in err


def test_log_takes_a_revision_range_and_refuses_what_is_neither(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`log tighten-risk` and `log nonexistent.yaml` said "No commits touch this file", exit 0:
    log takes REVISIONS as git log does, and a word that is neither is a usage error."""
    (tmp_path / "policy").mkdir()
    (tmp_path / "policy" / "policy.yaml").write_text(VALID)
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "base")
    git(tmp_path, "switch", "-q", "-c", "tighten-risk")
    (tmp_path / "policy" / "policy.yaml").write_text(
        VALID.replace("version: 7", "version: 8").replace("max_positions: 5", "max_positions: 4")
    )
    git(tmp_path, "commit", "-qam", "fewer positions")
    git(tmp_path, "switch", "-q", "main")
    monkeypatch.chdir(tmp_path)

    def subjects(*argv: str) -> list[str]:
        assert main(["log", *argv, "--format", "json"]) == 0
        return [e["subject"] for e in json.loads(capsys.readouterr().out)]

    assert subjects() == ["base"]  # HEAD: main
    assert subjects("tighten-risk") == ["fewer positions", "base"]
    assert subjects("main..tighten-risk") == ["fewer positions"]
    assert subjects("main..tighten-risk", "policy/policy.yaml") == ["fewer positions"]
    assert subjects("tighten-risk..main") == []
    assert main(["log", "--brakes", "main..tighten-risk"]) == 0
    capsys.readouterr()
    assert main(["log", "nonexistent.yaml"]) == 2
    assert "no such file or revision" in capsys.readouterr().err
    assert main(["log", "main..nope"]) == 2
    assert "unknown revision in the range" in capsys.readouterr().err
    (tmp_path / "main").write_text("")  # a file named as the branch is
    assert main(["log", "main"]) == 2
    assert "both a file here and a revision" in capsys.readouterr().err
    assert main(["log", "--", "--upload-pack=x"]) == 2  # never an option to git
    for word in ("HEAD..--output=x", "..--all", "main...-q"):  # nor inside a range
        assert main(["log", word]) == 2
        assert "unknown revision in the range" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    assert main(["log", "--brakes", "nonexistent.yaml"]) == 2
    assert "no such file or revision" in capsys.readouterr().err
    (tmp_path / "policy" / "old..yaml").write_text("risk_mode: NORMAL\n")  # ".." in its name
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "old")
    assert subjects("policy/old..yaml") == ["old"]
    assert subjects("HEAD~1..", "policy/old..yaml") == ["old"]
    assert "Traceback" not in capsys.readouterr().err
