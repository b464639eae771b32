"""The command line: exit codes, formats, and output people can act on."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import policyctl
from policyctl.cli import main

from ..support.policy import VALID, Writer

ROOT = Path(__file__).parents[2]
Capture = pytest.CaptureFixture[str]


def test_validate_ok(write: Writer, capsys: Capture) -> None:
    path = write()
    assert main(["validate", str(path)]) == 0
    assert f"{path}: valid (version 7, sha256 " in capsys.readouterr().out


def test_validate_several_files_sorted_and_every_error(write: Writer, capsys: Capture) -> None:
    good = write(name="a.yaml")
    bad_b = write(VALID.replace("max_positions: 5", "max_positions: 0"), name="b.yaml")
    bad_a = write(VALID.replace("version: 7", "version: x").replace("0.70", "2"), name="0.yaml")
    assert main(["validate", str(bad_b), str(good), str(bad_a)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{bad_a}:2:10: version: ")
    assert lines[1].startswith(f"{bad_a}:8:24: global_min_confidence: 2 is out of range")
    assert lines[2].startswith(f"{bad_b}:7:16: max_positions: 0 is out of range")
    assert lines[3].startswith(f"{good}: valid")
    assert lines[4] == "3 error(s) in 2 of 3 file(s)"


def test_validate_missing_file_is_exit_2(tmp_path: Path, write: Writer, capsys: Capture) -> None:
    bad = write(VALID.replace("version: 7", "version: 0"))
    assert main(["validate", str(bad), str(tmp_path / "nope.yaml")]) == 2
    out = capsys.readouterr().out
    assert "nope.yaml: cannot read the policy file: no such file" in out


def test_validate_json(write: Writer, capsys: Capture) -> None:
    bad = write(VALID.replace("max_positions: 5", "max_positions: true"))
    assert main(["validate", "--format", "json", str(bad)]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc == {
        "valid": False,
        "files": [
            {
                "file": str(bad),
                "valid": False,
                "version": None,
                "digest": None,
                "errors": [
                    {
                        "file": str(bad),
                        "variable": None,
                        "line": 7,
                        "column": 16,
                        "path": "max_positions",
                        "message": "true is a boolean, not a whole number;"
                        " valid: a whole number from 1 to 1000000",
                        "kind": "validation",
                    }
                ],
                "warnings": [],
            }
        ],
    }


def test_validate_github_annotations(write: Writer, capsys: Capture) -> None:
    bad = write(VALID.replace("max_positions: 5", "max_positions: 5\nmax_postions: 4"))
    assert main(["validate", "--format", "github", str(bad)]) == 1
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith(f"::error file={bad},line=8,col=1,title=policyctl::max_postions: ")
    assert "did you mean 'max_positions'?" in line


def test_validate_ignores_env_unless_asked(
    write: Writer, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QT_MAX_POSITIONS", "500")
    path = write()
    assert main(["validate", str(path)]) == 0
    assert main(["validate", "--with-env", str(path)]) == 1
    assert "QT_MAX_POSITIONS: max_positions: max_risk_per_trade * max_positions" in (
        capsys.readouterr().out
    )
    monkeypatch.setenv("QT_MAX_POSITIONS", "lots")
    assert main(["validate", "--with-env", str(path)]) == 1


def test_validate_default_file_from_env(
    write: Writer, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QT_POLICY_FILE", str(write()))
    assert main(["validate"]) == 0


def test_show_yaml_is_itself_a_valid_faithful_policy(
    write: Writer, tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QT_RISK_MODE", "defensive")
    assert main(["show", str(write())]) == 0
    out = capsys.readouterr().out
    assert "risk_mode: DEFENSIVE" in out and 'lstm: "3.10"' in out
    assert "overridden by the environment: risk_mode <- QT_RISK_MODE" in out
    shown = tmp_path / "shown.yaml"
    shown.write_text(out)
    again = policyctl.load_policy(shown, env={})
    assert again.policy == policyctl.load_policy(write(), env={"QT_RISK_MODE": "defensive"}).policy


def test_show_explain(write: Writer, capsys: Capture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QT_MAX_POSITIONS", "4")
    monkeypatch.setenv("QT_MODEL_VERSIONS", '{"lstm": "4"}')
    path = write()
    assert main(["show", "--explain", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"risk_mode: NORMAL  # from {path}:3" in out
    assert f"max_positions: 4  # from QT_MAX_POSITIONS (tightens against {path}:7)" in out
    assert f"model_versions:  # from QT_MODEL_VERSIONS over {path}:10" in out
    assert main(["show", "--explain", "--format", "json", str(path)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["origins"]["max_positions"] == f"QT_MAX_POSITIONS (tightens against {path}:7)"
    assert doc["origins"]["version"] == f"{path}:2"
    assert doc["policy"]["max_positions"] == 4
    assert doc["overrides"] == {
        "max_positions": "QT_MAX_POSITIONS",
        "model_versions": "QT_MODEL_VERSIONS",
    }


def test_show_invalid_is_exit_1_without_traceback(write: Writer, capsys: Capture) -> None:
    assert main(["show", str(write("version: [\n"))]) == 1
    err = capsys.readouterr().err
    assert "policy.yaml:2:1: not valid YAML" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("risk_mode", "NORMAL"),
        ("max_positions", "5"),
        ("global_min_confidence", "0.7"),
        ("model_versions.lstm", "3.10"),
        ("opp_rankings.BTCUSDT", "0.92"),
        ("allowed_symbols", '["BTCUSDT", "ETHUSDT"]'),
        ("allowed_symbols[1]", "ETHUSDT"),
        ("allowed_symbols.0", "BTCUSDT"),
        ("model_versions", '{"xgboost": "v12", "lstm": "3.10"}'),
        ("last_updated", "2026-11-27T10:00:00Z"),
    ],
)
def test_get(write: Writer, capsys: Capture, path: str, expected: str) -> None:
    assert main(["get", path, str(write())]) == 0
    assert capsys.readouterr().out == expected + "\n"


@pytest.mark.parametrize(
    "path", ["nope", "model_versions.gru", "allowed_symbols[9]", "risk_mode.x"]
)
def test_get_unknown_path_is_exit_2(write: Writer, capsys: Capture, path: str) -> None:
    assert main(["get", path, str(write())]) == 2
    assert "unknown path" in capsys.readouterr().err


def test_schema_commands(tmp_path: Path, capsys: Capture) -> None:
    target = tmp_path / "schema.json"
    assert main(["schema", "--check", "--path", str(target)]) == 1
    assert "missing; run `policyctl schema --write`" in capsys.readouterr().err
    assert main(["schema", "--write", "--path", str(target)]) == 0
    assert main(["schema", "--check", "--path", str(target)]) == 0
    assert main(["schema"]) == 0
    printed = capsys.readouterr().out
    assert printed == target.read_text()
    assert json.loads(printed)["title"] == "GlobalPolicy"


def test_env_command(capsys: Capture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QT_RISK_MODE", "defensive")
    monkeypatch.setenv("QT_MAX_POSITION", "3")
    assert main(["env"]) == 0
    out = capsys.readouterr().out
    assert "QT_RISK_MODE" in out and "'defensive'" in out and "risk_mode" in out
    assert "QT_MAX_POSITIONS" in out and "(unset)" in out
    assert "QT_MAX_POSITION is not recognised; did you mean QT_MAX_POSITIONS?" in out
    monkeypatch.setenv("QT_MAX_POSITIONS", "x")
    assert main(["env", "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    row = next(r for r in doc["variables"] if r["name"] == "QT_MAX_POSITIONS")
    assert row["value"] == "x" and "whole number" in row["error"]


def test_usage_errors_are_exit_2(capsys: Capture) -> None:
    assert main([]) == 2
    assert main(["frobnicate"]) == 2
    assert main(["validate", "--format", "xml"]) == 2
    assert "invalid choice" in capsys.readouterr().err
    assert main(["--help"]) == 0


def test_internal_error_hides_traceback_unless_debug(
    write: Writer, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr("policyctl.cli._show.load_policy", boom)
    assert main(["show", str(write())]) == 3
    assert "internal error" in capsys.readouterr().err
    with pytest.raises(RuntimeError):
        main(["--debug", "show", str(write())])


def test_installed_script(write: Writer) -> None:
    exe = Path(sys.executable).parent / "policyctl"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QT_")}
    bad = write(VALID.replace("risk_mode: NORMAL", "risk_mode: PANIC"))
    result = subprocess.run(
        [str(exe), "validate", str(bad)], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 1
    assert f'{bad}:3:12: risk_mode: "PANIC" is not a risk mode' in result.stdout
    result = subprocess.run(
        [sys.executable, "-m", "policyctl", "validate", str(ROOT / "policy" / "policy.yaml")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_validate_path_imports_no_heavy_dependencies(tmp_path: Path) -> None:
    """jsonschema, ruamel.yaml and watchdog cost cold-start time and are not needed to validate."""
    code = (
        "import sys; from policyctl.cli import main; "
        f"rc = main(['validate', {str(ROOT / 'policy' / 'policy.yaml')!r}]); "
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('jsonschema', 'ruamel', 'watchdog', 'fastapi')); "
        "print(heavy); sys.exit(rc)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_watch_prints_applied_and_refused_changes_until_interrupted(write: Writer) -> None:
    path = write()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QT_")}
    with subprocess.Popen(
        [str(Path(sys.executable).parent / "policyctl"), "watch", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        lines: queue.Queue[str] = queue.Queue()

        def pump() -> None:
            for text in proc.stdout or ():
                lines.put(text)

        reader = threading.Thread(target=pump)
        reader.start()

        def next_line() -> str:
            return lines.get(timeout=10)  # a missing line fails in 10 s instead of hanging

        try:
            assert "watching" in next_line()
            path.write_text(VALID.replace("version: 7", "version: 8").replace("5", "4", 1))
            line = next_line()
            assert "applied version 8" in line and "version, max_positions" in line
            path.write_text(VALID.replace("version: 7", "version: 9").replace("NORMAL", "PANIC"))
            line = next_line()
            assert f"refused: {path}:3:12: risk_mode:" in line
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=10) == 0
        finally:
            proc.kill()
            reader.join()
        assert "Traceback" not in proc.stderr.read()


def test_a_double_dash_splits_only_diff_s_arguments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    """A file named ``diff`` before ``--`` does not make another command a diff."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "diff").write_text(VALID)
    (tmp_path / "bad.yaml").write_text("version: true\n")
    assert main(["validate", "diff", "--", "bad.yaml"]) == 1
    assert "bad.yaml" in capsys.readouterr().out
