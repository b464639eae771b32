"""The repository's own wiring: CI workflows, pre-commit hooks, the two commands."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from policyctl.cli import main
from policyctl.cli._main import _parser
from policyctl.pipeline import _reader

ROOT = Path(__file__).parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def _check_jsonschema(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    assert exe
    return subprocess.run([exe, *args], capture_output=True, text=True, check=False, timeout=120)


def test_workflows_match_github_schema_offline() -> None:
    assert WORKFLOWS
    for schema in ("vendor.github-workflows", "custom.github-workflows-require-timeout"):
        result = _check_jsonschema("--builtin-schema", schema, *map(str, WORKFLOWS))
        assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_are_least_privilege_and_pinned() -> None:
    for path in WORKFLOWS:
        workflow = yaml.safe_load(path.read_text())
        assert workflow["permissions"] == {"contents": "read"}, path.name
        for job in workflow["jobs"].values():
            for step in job["steps"]:
                if "uses" in step:
                    ref = step["uses"].split("@", 1)[1]
                    assert len(ref) == 40 and all(c in "0123456789abcdef" for c in ref), step


def test_pre_commit_hooks_run_real_commands(capsys: object) -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert {h["id"] for h in hooks} == {"policyctl-validate", "policyctl-schema-check"}
    for hook in hooks:
        program, *args = shlex.split(hook["entry"])
        assert program == "policyctl"
        files = [str(ROOT / "policy" / "policy.yaml")] if hook.get("pass_filenames", True) else []
        assert main([*args, *files]) == 0, hook["id"]


def test_ci_entry_point_runs_make_test() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme


def test_policy_workflow_runs_the_checks_with_real_commands() -> None:
    # Our own YAML 1.2 reader: PyYAML would read the `on:` key as the boolean true.
    workflow = _reader.parse((ROOT / ".github" / "workflows" / "policy.yml").read_bytes()).data
    runs = [step.get("run", "") for step in workflow["jobs"]["check"]["steps"]]
    commands = [
        shlex.split(line.strip().rstrip("\\").replace("${BASE_REF}", "main"))
        for run in runs
        for line in run.splitlines()
        if line.strip().startswith("policyctl ")
    ]
    assert [c[1] for c in commands] == ["validate", "schema", "diff"]
    for command in commands:
        args = [a for a in command[1:] if a not in ("|", "tee")]
        _parser().parse_args(args)  # a typo in the workflow fails here, not on a pull request
    assert commands[2][4:7] == ["--require-bump", "--format", "markdown"]
    assert any("pytest" in run for run in runs)
    assert workflow["on"]["pull_request"]["paths"] == ["policy/**", "schemas/**"]
