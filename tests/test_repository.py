"""The repository's own wiring: CI workflows, pre-commit hooks, the two commands."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from policyctl.cli import main
from policyctl.cli._main import parser as _parser
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
        assert workflow["permissions"] in ({"contents": "read"}, {}), path.name
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


def _workflow(name: str) -> dict[str, Any]:
    # Our own YAML 1.2 reader: PyYAML would read the `on:` key as the boolean true.
    data: dict[str, Any] = _reader.parse((ROOT / ".github" / "workflows" / name).read_bytes()).data
    return data


def test_policy_gate_commands_parse() -> None:
    workflow = _workflow("policy.yml")
    runs = [step.get("run", "") for step in workflow["jobs"]["gate"]["steps"]]
    commands = [
        shlex.split(line.strip().split(">", 1)[0].rstrip("\\").replace("|| status=1", ""))
        for run in runs
        for line in run.splitlines()
        if line.strip().startswith("gate ")
    ]
    assert [c[1] for c in commands] == ["validate", "diff", "replay"]
    for command in commands:
        _parser().parse_args([a for a in command[1:] if a != "--"])  # a typo fails here
    assert commands[1][1:] == [
        "diff",
        "HEAD^1",
        "HEAD",
        "--require-bump",
        "--format",
        "markdown",
        "--",
    ]


@pytest.mark.parametrize("name", ["policy.yml", "ci.yml"])
def test_workflows_report_on_every_change_and_on_the_merge_queue(name: str) -> None:
    workflow = _workflow(name)
    triggers = workflow["on"]
    assert set(triggers) == {"pull_request", "merge_group", "push"}
    assert not (triggers["pull_request"] or {}).get("paths")  # a required check must report
    assert triggers["push"] == {"branches": ["main"]}
    assert "concurrency" in workflow


def test_zizmor_finds_nothing_offline_as_an_auditor() -> None:
    exe = shutil.which("zizmor", path=str(Path(sys.executable).parent))
    assert exe
    result = subprocess.run(
        [exe, "--offline", "--persona", "auditor", "--format", "json", str(ROOT / ".github")],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    findings = json.loads(result.stdout)
    assert findings == [], [(f["ident"], f["locations"][0]["symbolic"]["key"]) for f in findings]
    # An inline ignore is allowed only with a reason after it.
    for path in (ROOT / ".github").rglob("*.y*ml"):
        for line in path.read_text().splitlines():
            if "zizmor: ignore[" in line:
                reason = line.split("zizmor: ignore[", 1)[1].split("]", 1)[1].strip(" -:#")
                assert reason, f"{path.name}: an ignore without a reason: {line.strip()}"


def test_pre_commit_manifest_is_valid_and_the_schema_hook_always_runs() -> None:
    exe = shutil.which("pre-commit", path=str(Path(sys.executable).parent))
    assert exe
    manifest = ROOT / ".pre-commit-hooks.yaml"
    result = subprocess.run(
        [exe, "validate-manifest", str(manifest)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    hooks = {h["id"]: h for h in yaml.safe_load(manifest.read_text())}
    assert hooks["policyctl-schema-check"]["always_run"] is True


def test_dependabot_keeps_the_pins_fresh() -> None:
    result = _check_jsonschema(
        "--builtin-schema", "vendor.dependabot", str(ROOT / ".github" / "dependabot.yml")
    )
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    watched = {(u["package-ecosystem"], u["directory"]) for u in config["updates"]}
    assert {("github-actions", "/"), ("pip", "/.github/gate")} <= watched


def test_codeowners_cover_the_gate() -> None:
    owners: dict[str, str] = {}
    for line in (ROOT / ".github" / "CODEOWNERS").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            pattern, *teams = line.split()
            owners[pattern] = " ".join(teams)
    assert "*" in owners  # a default owner
    for path in (
        "/policy/",
        "/schemas/",
        "/policyctl/",
        "/pyproject.toml",
        "/.github/",
        "/.ci/",
        "/Makefile",
        "/tests/cases/",
    ):
        assert owners.get(path) == "@quantum-trader/risk-desk", path


def test_every_run_script_passes_shellcheck(tmp_path: Path) -> None:
    exe = shutil.which("shellcheck", path=str(Path(sys.executable).parent))
    assert exe
    for path in WORKFLOWS:
        for job in _workflow(path.name)["jobs"].values():
            for i, step in enumerate(job["steps"]):
                if "run" not in step:
                    continue
                script = tmp_path / f"{path.stem}-{i}.sh"
                script.write_text("#!/bin/bash\nset -eo pipefail\n" + step["run"])
                result = subprocess.run(
                    [exe, "--severity=style", str(script)],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                assert result.returncode == 0, f"{path.name} step {i}:\n{result.stdout}"


def test_the_gate_judges_only_pull_requests_into_main() -> None:
    """A pull request into another branch would be judged by that branch's checker (its
    author's code): the gate runs on pull requests into main, and labels only those."""
    workflow = _workflow("policy.yml")
    assert workflow["on"]["pull_request"] == {"branches": ["main"]}
    (lane,) = [s for s in workflow["jobs"]["gate"]["steps"] if s.get("id") == "lane"]
    assert "github.base_ref == 'main'" in lane["if"]
    assert "github.base_ref == 'main'" in workflow["jobs"]["label"]["if"]


def test_no_workflow_line_is_over_120_characters() -> None:  # yamllint's default
    for path in WORKFLOWS:
        long = [n for n, line in enumerate(path.read_text().splitlines(), 1) if len(line) > 120]
        assert not long, f"{path.name}: lines {long}"


def test_the_signing_job_signs_main_only_with_pinned_dependencies() -> None:
    """The bundle is signed after the merge, on main, by a job whose key only main can reach,
    with every wheel pinned by hash, and verified before it is published."""
    workflow = _workflow("policy-bundle.yml")
    assert set(workflow["on"]) == {"push", "schedule", "workflow_dispatch"}
    assert workflow["on"]["push"] == {"branches": ["main"]}
    (job,) = workflow["jobs"].values()
    assert job["environment"] == "policy-signing"
    assert job["if"] == "github.ref == 'refs/heads/main'"
    assert job["permissions"] == {"contents": "write", "pull-requests": "read"}
    script = "\n".join(step.get("run", "") for step in job["steps"])
    assert "--require-hashes" in script and ".github/signing/requirements.txt" in script
    assert script.index("bundle build") < script.index("verify") < script.index("push --force")
    lines = (ROOT / ".github" / "signing" / "requirements.txt").read_text().splitlines()
    pins = [line for line in lines if line and not line.startswith((" ", "#"))]
    assert any(p.startswith("cryptography==") for p in pins)
    assert all("==" in p and p.endswith("\\") for p in pins), pins
