"""deploy/: every manifest against the real Kubernetes schemas (kubernetes-validate, bundled,
offline, strict), kustomizations whose files exist, alert expressions through a real PromQL
parser, and the git-sync layout rebuilt with real git worktrees and a symlink swap, followed by
a store that names the commit it serves."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import promql_parser
import pytest

from policyctl import PolicyStore
from policyctl.pipeline import _reader

from .support.git import committed_repo, git
from .support.policy import VALID

ROOT = Path(__file__).parents[1]
DEPLOY = ROOT / "deploy"
KUBERNETES_VERSION = "1.37.0"
MANIFESTS = sorted(
    p for p in (DEPLOY / "kubernetes").rglob("*.yaml") if p.name != "kustomization.yaml"
)
KUSTOMIZATIONS = sorted((DEPLOY / "kubernetes").rglob("kustomization.yaml"))


@pytest.mark.parametrize("manifest", MANIFESTS, ids=[str(p.relative_to(DEPLOY)) for p in MANIFESTS])
def test_manifests_are_valid_kubernetes(manifest: Path) -> None:
    exe = shutil.which("kubernetes-validate", path=str(Path(sys.executable).parent))
    assert exe, "kubernetes-validate is a dev dependency"
    result = subprocess.run(
        [exe, "--strict", "-k", KUBERNETES_VERSION, str(manifest)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "kustomization", KUSTOMIZATIONS, ids=[p.parent.name for p in KUSTOMIZATIONS]
)
def test_kustomizations_name_files_that_exist(kustomization: Path) -> None:
    data = _reader.parse(kustomization.read_bytes()).data
    for resource in data.get("resources", []):
        assert (kustomization.parent / resource).is_file(), resource
    for generator in data.get("configMapGenerator", []):
        for entry in generator.get("files", []):
            source = entry.split("=", 1)[-1]
            assert (kustomization.parent / source).resolve().is_file(), source
    if data.get("configMapGenerator"):
        assert data["generatorOptions"]["disableNameSuffixHash"] is True  # reload, not restart


def _keys(value: object) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_no_manifest_mounts_with_subpath() -> None:  # a subPath file never updates
    for manifest in MANIFESTS:
        assert "subPath" not in _keys(_reader.parse(manifest.read_bytes()).data), manifest


def test_alert_rules_parse_as_promql() -> None:
    rules = _reader.parse((DEPLOY / "prometheus" / "policyctl-rules.yaml").read_bytes()).data
    alerts = {r["alert"]: r for group in rules["groups"] for r in group["rules"]}
    assert set(alerts) == {
        "PolicyReplicasDisagree",
        "PolicyRefused",
        "PolicyBrakeLiftsSoon",
        "PolicyLoosenedByEnvironment",
        "PolicyBundleRefused",
        "PolicyBundleExpiresSoon",
        "PolicyBundleStale",
        "PolicySentBrakeNotInGit",
        "PolicyAdjustmentNotReverted",
    }
    for rule in alerts.values():
        promql_parser.parse(rule["expr"])  # raises on a bad expression
        assert rule["labels"]["severity"] in ("critical", "warning", "info")
    assert alerts["PolicyReplicasDisagree"]["for"] == "5m"
    assert "600" in alerts["PolicyRefused"]["expr"]  # 10 minutes
    loosened = alerts["PolicyLoosenedByEnvironment"]["expr"]
    assert 'policyctl_env_override{direction="loosens"}' in loosened
    assert 'policyctl_failures_total{reason="bundle"}' in alerts["PolicyBundleRefused"]["expr"]
    assert "policyctl_bundle_stale" in alerts["PolicyBundleStale"]["expr"]
    reverted = alerts["PolicyAdjustmentNotReverted"]["expr"]
    assert "policyctl_adjustment_seconds_remaining" in reverted and "<= 0" in reverted
    with pytest.raises(ValueError):
        promql_parser.parse("count by (job (policyctl_policy_info")  # the parser does refuse


def _checkout(repo: Path, root: Path, sha: str) -> None:
    """git-sync's step: a worktree named after the commit, then the link swapped by rename."""
    git(repo, "worktree", "add", "--detach", "-q", str(root / ".worktrees" / sha), sha)
    (root / "current.tmp").symlink_to(f".worktrees/{sha}")
    (root / "current.tmp").replace(root / "current")


def test_a_store_follows_a_git_sync_layout(tmp_path: Path) -> None:
    repo = committed_repo(tmp_path / "repo", VALID)
    first = git(repo, "rev-parse", "HEAD")
    root = tmp_path / "git"
    root.mkdir()
    _checkout(repo, root, first)
    with PolicyStore(root / "current" / "policy" / "policy.yaml", env={}) as store:
        assert store.status().commit == first and store.current().version == 7
        (repo / "policy" / "policy.yaml").write_text(VALID.replace("version: 7", "version: 8"))
        git(repo, "commit", "-qam", "next")
        second = git(repo, "rev-parse", "HEAD")
        _checkout(repo, root, second)
        git(repo, "worktree", "remove", "--force", str(root / ".worktrees" / first))
        deadline = time.monotonic() + 10
        while store.current().version != 8:
            assert time.monotonic() < deadline, store.status()
            time.sleep(0.01)
        assert store.status().commit == second and store.status().failures == 0


def _mount(configmap: dict[str, object], directory: Path) -> None:
    """A ConfigMap as the kubelet mounts it: each key a link into ..data, a timestamped
    directory holding the files."""
    stamped = directory / "..2026_12_04_17_00_00.000000001"
    stamped.mkdir(parents=True)
    data = configmap.get("data") or {}
    assert isinstance(data, dict)
    for key, value in data.items():
        (stamped / key).write_text(value)
        (directory / key).symlink_to(f"..data/{key}")
    (directory / "..data").symlink_to(stamped.name)


def test_the_configmap_path_is_built_from_a_signed_bundle(tmp_path: Path) -> None:
    """bundle build --kustomization: the ConfigMaps list every file of the bundle (no list kept
    by hand); built by the real kubectl kustomize, valid Kubernetes, and mounted as the kubelet
    does they are what a store with trust verifies and serves, brake included."""
    import yaml  # noqa: PLC0415

    from policyctl.cli import main  # noqa: PLC0415

    repo = committed_repo(tmp_path / "repo", VALID)
    (repo / "policy" / "overrides").mkdir()
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    (repo / "policy" / "overrides" / "cpi.yaml").write_text(
        f'reason: "cpi"\nuntil: "{until}"\nset: {{max_positions: 2}}\n'
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a brake")
    key, trust = tmp_path / "ci.pem", tmp_path / "trust"
    trust.mkdir()
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(key)], check=True)
    subprocess.run(
        ["openssl", "pkey", "-in", str(key), "-pubout", "-out", str(trust / "ci.pem")], check=True
    )
    dist = tmp_path / "dist"
    dist.mkdir()
    argv = ["bundle", "build", str(repo / "policy" / "policy.yaml"), "--key", str(key)]
    argv += ["--out", str(dist / "policy"), "--kustomization", str(dist / "kustomization.yaml")]
    assert main(argv) == 0
    built = subprocess.run(
        ["kubectl", "kustomize", str(dist)], capture_output=True, text=True, check=True
    ).stdout
    (tmp_path / "built.yaml").write_text(built)
    exe = shutil.which("kubernetes-validate", path=str(Path(sys.executable).parent))
    assert exe
    subprocess.run(
        [exe, "--strict", "-k", KUBERNETES_VERSION, str(tmp_path / "built.yaml")], check=True
    )
    maps = {d["metadata"]["name"]: d for d in yaml.safe_load_all(built)}
    assert set(maps["policy"]["data"]) == {"policy.yaml", "statement.dsse.json"}
    assert set(maps["policy-overrides"]["data"]) == {"cpi.yaml"}
    _mount(maps["policy"], tmp_path / "etc" / "policy")
    _mount(maps["policy-overrides"], tmp_path / "etc" / "policy-overrides")
    with PolicyStore(
        tmp_path / "etc" / "policy" / "policy.yaml",
        env={"QT_OVERRIDES_DIR": str(tmp_path / "etc" / "policy-overrides")},
        watch=False,
        trust=trust,
    ) as store:
        assert store.current().bundle is not None
        assert store.current().policy.max_positions == 2  # the signed brake, in force
