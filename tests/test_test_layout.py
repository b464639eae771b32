"""The tests' own layout: a test module imports shared helpers from tests/support/, never from
another test module or a conftest.py (pytest imports those itself; importing one runs it twice
under another name, and ties one test file's internals to another's)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
SUPPORT = "tests.support"


def _module_name(path: Path) -> str:
    parts = path.relative_to(TESTS.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Every module of ours ``source`` imports (``from pkg import name`` counts ``pkg.name``
    too: the name may be a module), relative imports resolved against ``module``."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "tests" or name.startswith("tests.")}


def _forbidden(imported: set[str]) -> set[str]:
    """What of ``imported`` is a test module or a conftest.py (anything of ours but support)."""
    modules = {_module_name(p) for p in TESTS.rglob("*.py")}
    return {
        name
        for name in imported & modules
        if name != SUPPORT and not name.startswith(f"{SUPPORT}.") and name != "tests"
    }


def test_no_test_module_imports_another() -> None:
    offenders: dict[str, list[str]] = {}
    for path in sorted(TESTS.rglob("*.py")):  # tests/support/ too: it imports only itself
        module = _module_name(path)
        found = _forbidden(
            _imported(path.read_text(), module, is_package=path.name == "__init__.py") - {module}
        )
        if found:
            offenders[str(path.relative_to(TESTS))] = sorted(found)
    assert not offenders, f"move what these import to tests/support/: {offenders}"


@pytest.mark.parametrize(
    "source",
    [
        "from ..conftest import VALID",
        "from .test_git import git",
        "from ..cli.test_json_shapes import _json",
        "from .. import conftest",
        "from ..review import test_git",
        "import tests.review.test_git",
        "from tests.live.conftest import mode",
        "def f():\n    from ..conftest import VALID",
    ],
)
def test_the_check_sees_each_way_of_importing_a_test_module(source: str) -> None:
    assert _forbidden(_imported(source, "tests.review.test_example")), source


def test_the_check_lets_support_and_other_imports_through() -> None:
    source = "from ..support.git import git\nfrom tests.support import policy\nimport pytest"
    assert not _forbidden(_imported(source, "tests.cli.test_example"))
