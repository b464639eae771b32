"""What a command line loads: ``--help`` no pydantic, ``validate`` neither watchdog, git's side nor
importlib.metadata (pydantic's plugin scan), and the stand-in for pydantic's plugin loader says
what pydantic itself says when plugins are off."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def _loaded_by(*argv: str) -> tuple[int, set[str]]:
    code = (
        "import sys\n"
        f"sys.argv = ['policyctl', *{list(argv)!r}]\n"
        "from policyctl.cli import main\n"
        "status = main()\n"
        "print('\\n'.join(sorted(sys.modules)), file=sys.stderr)\n"
        "raise SystemExit(status)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    done = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, cwd=ROOT, env=env
    )
    return done.returncode, set(done.stderr.split())


def test_help_loads_no_command_and_no_pydantic() -> None:
    status, loaded = _loaded_by("--help")
    assert status == 0
    heavy = {m for m in loaded if m.startswith(("pydantic", "yaml", "policyctl.model"))}
    assert heavy <= {"pydantic.plugin._loader"}  # our stand-in, an empty module
    assert not {m for m in loaded if m.startswith("policyctl.cli._") and m.count(".") == 2} - {
        "policyctl.cli._main",
        "policyctl.cli._colour",
        "policyctl.cli._escape",
        "policyctl.cli._exit",
        "policyctl.cli._help",
        "policyctl.cli._paths",
    }


def test_validate_loads_only_what_it_needs() -> None:
    status, loaded = _loaded_by("validate", "policy/policy.yaml")
    assert status == 0
    for heavy in ("watchdog", "importlib.metadata", "policyctl.review", "policyctl.live"):
        assert heavy not in loaded, heavy


@pytest.mark.parametrize("setting", ["__all__", "1", "true"])
def test_the_plugin_loader_stand_in_answers_as_pydantic_does(setting: str) -> None:
    code = (
        "from pydantic.plugin._loader import get_plugins\n"
        "from policyctl.cli._main import _no_pydantic_plugins\n"
        "real = tuple(get_plugins())\n"
        "import sys; del sys.modules['pydantic.plugin._loader']\n"
        "_no_pydantic_plugins()\n"
        "from pydantic.plugin._loader import get_plugins as stand_in\n"
        "assert real == tuple(stand_in()) == (), (real, stand_in())\n"
    )
    env = {**os.environ, "PYDANTIC_DISABLE_PLUGINS": setting}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=ROOT)
