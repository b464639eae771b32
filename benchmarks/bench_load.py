"""Read-path figures: strict load against the naive pipeline, and CLI cold start.

Run: .venv/bin/python benchmarks/bench_load.py    (or `make bench`)

Prints, in one run:
- load_policy on the repository policy and on generated 100 / 1,000 / 10,000-symbol policies,
  beside the naive pipeline yaml.load(CSafeLoader) + GlobalPolicy.model_validate on the same bytes
  (which has none of our checks); target: at most 1.0x at 10,000 symbols, linear growth.
- `policyctl validate` cold-start wall time beside `check-jsonschema --schemafile` on the same
  file; target: at most 0.5x.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import yaml
from _policies import generated_policy  # benchmarks/ is on sys.path when run as a script
from ruamel.yaml import YAML

from policyctl import GlobalPolicy, load_policy

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _best(func: Callable[[], object], budget: float = 1.0, floor: int = 5) -> float:
    """Median seconds per call over repeated calls (at least ``floor``, about ``budget`` s)."""
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < floor or time.perf_counter() - start < budget:
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
        if len(times) >= 2000:
            break
    return statistics.median(times)


def _naive(data: bytes) -> GlobalPolicy:
    return GlobalPolicy.model_validate(yaml.load(data, Loader=yaml.CSafeLoader))


def _ruamel_safe(data: bytes) -> object:
    return YAML(typ="safe").load(data)  # what check-jsonschema reads YAML with


def load_rows(tmp: Path) -> list[tuple[str, float, float, float]]:
    cases = [("repository policy", (ROOT / "policy" / "policy.yaml").read_bytes())]
    cases += [(f"{n:,} symbols", generated_policy(n)) for n in (100, 1_000, 10_000)]
    rows = []
    for label, data in cases:
        path = tmp / "policy.yaml"
        path.write_bytes(data)
        assert _naive(data) == load_policy(path, env={}).policy  # same policy, both ways
        ours = _best(lambda p=path: load_policy(p, env={}))  # type: ignore[misc]
        naive = _best(lambda d=data: _naive(d))  # type: ignore[misc]
        ruamel = _best(lambda d=data: _ruamel_safe(d), budget=0.5, floor=3)  # type: ignore[misc]
        rows.append((label, ours, naive, ruamel))
    return rows


def cold_start_rows(runs: int = 25) -> list[tuple[str, float]]:
    """Median wall time of each command, run in turn (interleaved, so that the machine's load
    falls on all of them alike), after compiling our modules as an installed package is."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "policyctl")], check=True)
    policy = str(ROOT / "policy" / "policy.yaml")
    schema = str(ROOT / "schemas" / "global_policy.schema.json")
    with tempfile.TemporaryDirectory() as scratch:
        bundle, trust = _signed_bundle(Path(scratch))
        return _interleaved(runs, policy, schema, bundle, trust)


def _signed_bundle(directory: Path) -> tuple[str, str]:
    """A bundle of the repository's policy, signed with a new key, and a trust directory."""
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (  # noqa: PLC0415
        Ed25519PrivateKey,
    )

    from policyctl.pipeline import sign_bundle, write_bundle  # noqa: PLC0415

    key = Ed25519PrivateKey.generate()
    (directory / "trust").mkdir()
    (directory / "trust" / "ci.pem").write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    files = {"policy.yaml": (ROOT / "policy" / "policy.yaml").read_bytes()}
    envelope = sign_bundle(files, version=1, commit=None, key=key, now=datetime.now(UTC))
    write_bundle(directory / "bundle", files, envelope)
    return str(directory / "bundle"), str(directory / "trust")


def _interleaved(
    runs: int, policy: str, schema: str, bundle: str, trust: str
) -> list[tuple[str, float]]:
    commands = {
        "python -c pass (interpreter floor)": [sys.executable, "-c", "pass"],
        "python -c 'import pydantic, yaml' (floor)": [
            sys.executable, "-c", "import pydantic, yaml",
        ],
        "policyctl validate": [str(BIN / "policyctl"), "validate", policy],
        "check-jsonschema --schemafile": [
            str(BIN / "check-jsonschema"), "--schemafile", schema, policy,
        ],
        "policyctl --help": [str(BIN / "policyctl"), "--help"],
        "policyctl verify (a signed bundle)": [
            str(BIN / "policyctl"), "verify", bundle, "--trust", trust,
        ],
    }  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("QT_")}
    times: dict[str, list[float]] = {label: [] for label in commands}
    for _ in range(runs):
        for label, cmd in commands.items():
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, env=env)
            times[label].append(time.perf_counter() - t0)
    return [(label, statistics.median(t)) for label, t in times.items()]


def import_breakdown() -> list[tuple[str, float]]:
    """Cumulative import time of the biggest top-level pieces of `policyctl validate`."""
    policy = str(ROOT / "policy" / "policy.yaml")
    code = f"from policyctl.cli import main; main(['validate', {policy!r}])"
    err = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True
    ).stderr
    rows = []
    for line in err.splitlines()[1:]:
        _, _self, cumulative, name = (part.strip() for part in line.replace(":", "|", 1).split("|"))
        if name in (
            "pydantic",
            "yaml",
            "policyctl.model",
            "policyctl.pipeline._loader",
            "policyctl.cli",
            "policyctl.pipeline._reader",
            "argparse",
            "logging",
            "hashlib",
            "json",
        ):
            rows.append((name, int(cumulative) / 1e3))
    return rows


def main() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        rows = load_rows(Path(tmp))
    print(
        "load_policy (strict) vs naive yaml.load(CSafeLoader) + model_validate, and vs"
        " ruamel.yaml's safe loader alone (what check-jsonschema parses with); median per call"
    )
    print(
        f"  {'input':<20} {'policyctl':>12} {'naive':>12} {'ratio':>7} {'ruamel':>12} {'ratio':>7}"
    )
    for label, ours, naive, ruamel in rows:
        print(
            f"  {label:<20} {ours * 1e3:>9.3f} ms {naive * 1e3:>9.3f} ms {ours / naive:>6.2f}x"
            f" {ruamel * 1e3:>9.3f} ms {ours / ruamel:>6.2f}x"
        )
    per_symbol = [
        ours / n for (_, ours, _, _), n in zip(rows[1:], (100, 1_000, 10_000), strict=True)
    ]
    print("  per symbol (linearity): " + ", ".join(f"{t * 1e6:.2f} us" for t in per_symbol))
    cold = cold_start_rows()
    print("\nCLI cold start, median wall time of 25 interleaved runs on policy/policy.yaml")
    for label, seconds in cold:
        print(f"  {label:<42} {seconds * 1e3:>8.1f} ms")
    by = dict(cold)
    reference = by["check-jsonschema --schemafile"]
    ratio = by["policyctl validate"] / reference
    help_ratio = by["policyctl --help"] / reference
    floor = by["python -c 'import pydantic, yaml' (floor)"] / reference
    print(f"  policyctl validate / check-jsonschema = {ratio:.2f}x (target <= 0.6x)")
    print(f"  policyctl --help / check-jsonschema = {help_ratio:.2f}x (target <= 0.3x)")
    print(f"  floor, import pydantic and yaml / check-jsonschema = {floor:.2f}x")
    breakdown = import_breakdown()
    print(
        "  python -X importtime, cumulative ms: "
        + ", ".join(f"{n} {ms:.1f}" for n, ms in breakdown)
    )
    return {
        "load": [
            {
                "input": label,
                "policyctl_s": ours,
                "naive_s": naive,
                "ruamel_safe_s": ruamel,
                "ratio_naive": ours / naive,
                "ratio_ruamel": ours / ruamel,
            }
            for label, ours, naive, ruamel in rows
        ],
        "cold_start": dict(cold),
        "cold_start_ratio": ratio,
        "help_ratio": help_ratio,
        "cold_start_floor_ratio": floor,
        "import_ms": dict(breakdown),
    }


if __name__ == "__main__":
    main()
