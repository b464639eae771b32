"""The package layout (README, "Repository layout"): one-way arrows, no cycles.

The arrows are read from the source (every import, lazy ones inside functions included), and
checked again at run time in a fresh interpreter, where lazy imports and re-exports show. A
module holds one concept whatever its length: size is a question for review, not a test.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "policyctl"

# What each room may import of ours (besides itself), down the README's layout table. "top" is
# policyctl/__init__ itself.
_BASE = {"pipeline", "model", "errors"}
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "model": {"errors"},
    "pipeline": {"model", "errors"},
    "decisions": _BASE,
    "live": {"decisions", *_BASE},
    "review": {"decisions", *_BASE},
    "edit": {"review", *_BASE},
    "propose": {"edit", "review", *_BASE},
    "fleet": {"live", *_BASE},
    "http": {"live", *_BASE},
    "cli": {"top", "propose", "edit", "review", "fleet", "live", "decisions", "http", *_BASE},
    "__main__": {"cli"},
    "top": {"propose", "edit", "review", "live", "decisions", *_BASE},
}
SUB_PACKAGES = tuple(sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()))


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _room(module: str) -> str:
    parts = module.split(".")
    return "top" if len(parts) == 1 else parts[1]


def _imports(module: str) -> set[str]:
    """Our modules that ``module`` imports (``from pkg import submodule`` counts the submodule)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    nodes = list(ast.walk(tree))  # every import: inside functions and TYPE_CHECKING too
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "policyctl")
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            if base.split(".")[0] != "policyctl":
                continue
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return found - {module}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down_the_table(module: str) -> None:
    room = _room(module)
    foreign = {
        target
        for target in _imports(module)
        if _room(target) != room and _room(target) not in ALLOWED[room]
    }
    assert not foreign, f"{module} ({room}) may not import {sorted(foreign)}"


def test_every_room_is_in_the_table() -> None:
    assert set(SUB_PACKAGES) <= set(ALLOWED), set(SUB_PACKAGES) - set(ALLOWED)


def test_no_import_cycle() -> None:
    """No circle through any import, those inside functions included: a function-level import
    hides a cycle from Python at load time, not from a reader."""
    graph = {m: _imports(m) & set(MODULES) for m in MODULES}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycle = [*path[path.index(target) :], target] if target in path else [target]
                pytest.fail(f"import cycle: {' -> '.join(cycle)}")
            if target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_says_what_it_is_and_declares_its_surface(module: str) -> None:
    path = MODULES[module]
    tree = ast.parse(path.read_text())
    assert ast.get_docstring(tree), f"{module} has no docstring"
    if path.name != "__main__.py":
        declared = any(
            isinstance(n, ast.Assign | ast.AnnAssign)
            and any(isinstance(t, ast.Name) and t.id == "__all__" for t in _targets(n))
            for n in tree.body
        )
        assert declared, f"{module} declares no __all__"


def _targets(node: ast.Assign | ast.AnnAssign) -> list[ast.expr]:
    return node.targets if isinstance(node, ast.Assign) else [node.target]


@pytest.mark.parametrize("package", SUB_PACKAGES)
def test_each_room_says_what_it_is_and_what_it_may_import(package: str) -> None:
    doc = ast.get_docstring(ast.parse((PACKAGE / package / "__init__.py").read_text())) or ""
    assert "May import" in doc, f"policyctl/{package}/__init__.py does not say what it may import"
    private = [p.name for p in (PACKAGE / package).glob("*.py") if not p.name.startswith("_")]
    assert not private, f"modules of {package} without the private underscore: {private}"


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize("statement", ["import policyctl.pipeline", "import policyctl.live"])
def test_the_library_loads_neither_the_cli_nor_the_http_view(statement: str) -> None:
    loaded = _loaded_after(statement)
    forbidden = {"policyctl.cli", "policyctl.http", "fastapi", "uvicorn", "prometheus_client"}
    assert not loaded & forbidden
    assert "policyctl.review" not in loaded


def test_the_model_loads_no_other_sub_package() -> None:
    loaded = _loaded_after("import policyctl.model, policyctl.errors")
    assert not {f"policyctl.{p}" for p in SUB_PACKAGES if p != "model"} & loaded
    # ...and the public names still come from `import policyctl`, lazily where they are heavy.
    names = _loaded_after("from policyctl import PolicyStore, load_policy, PolicySnapshot")
    assert {"policyctl.live", "policyctl.pipeline"} <= names


def test_the_public_surface_is_what_the_contract_names() -> None:
    import policyctl  # noqa: PLC0415
    import policyctl.http  # noqa: PLC0415

    assert sorted(policyctl.__all__) == sorted(
        [
            "REASON_CODES",
            "BrakeRequest",
            "EditRefused",
            "PolicyInternalError",
            "GlobalPolicy",
            "Issue",
            "PolicyEnvError",
            "PolicyError",
            "PolicySnapshot",
            "PolicySourceError",
            "PolicyStore",
            "PolicySyntaxError",
            "PolicyValidationError",
            "Proposal",
            "ProposalConflict",
            "RiskMode",
            "SignalVerdict",
            "StoreStatus",
            "load_policy",
            "propose",
            "refresh_proposal",
        ]
    )
    assert all(hasattr(policyctl, name) for name in policyctl.__all__)
    assert {"router", "lifespan", "create_app"} <= set(policyctl.http.__all__)


def test_the_runtime_imports_only_its_declared_dependencies() -> None:
    """A service that loads and watches the policy needs pyyaml, pydantic and watchdog (and
    what they import): nothing else is installed for it, so nothing else may be imported."""
    code = (
        "import sys, policyctl\n"
        "store = policyctl.PolicyStore('policy/policy.yaml', env={})\n"
        "store.current().policy.evaluate_signal(symbol='X', strategy='y', confidence=0.5)\n"
        "store.close()\n"
        "print('\\n'.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=PACKAGE.parent,
    ).stdout.split()
    third_party = {m for m in out if m not in sys.stdlib_module_names and not m.startswith("_")}
    declared = {"yaml", "pydantic", "pydantic_core", "typing_extensions", "annotated_types"}
    declared |= {"typing_inspection", "watchdog", "policyctl", "cython_runtime"}  # pyyaml's C
    declared |= {"cryptography", "cffi", "_cffi_backend"}  # signed bundles, when verified
    assert third_party <= declared, third_party - declared
    text = (PACKAGE.parent / "pyproject.toml").read_text()
    dependencies = text.split("\ndependencies = [", 1)[1].split("]", 1)[0]
    names = {
        line.strip().strip('",').split(">")[0].split("<")[0] for line in dependencies.splitlines()
    }
    assert names - {""} == {"pyyaml", "pydantic", "watchdog", "shtab", "cryptography"}


def _layout_row(room: str) -> str:
    readme = (PACKAGE.parent / "README.md").read_text()
    match = re.search(rf"^\| `policyctl/{room}/` \| (.*) \|$", readme, re.M)
    assert match, f"the README's layout table has no row for policyctl/{room}/"
    return match.group(1)


@pytest.mark.parametrize("room", SUB_PACKAGES)
def test_the_readme_layout_table_names_every_module_of_each_room(room: str) -> None:
    """The table cannot drift: each room's row names exactly its modules, and the rooms it
    says it uses are the ones the arrows allow."""
    row = _layout_row(room)
    named = set(re.findall(r"`(_[a-z_]+)`", row))
    modules = {p.stem for p in (PACKAGE / room).glob("_*.py") if p.name != "__init__.py"}
    assert named == modules, (
        f"README names {sorted(named - modules)}, misses {sorted(modules - named)}"
    )
    uses = re.search(r"Uses ((?:`\w+`(?:, )?)+)", row)
    if uses:
        assert set(re.findall(r"`(\w+)`", uses.group(1))) == ALLOWED[room]
