"""policyctl beside what a user would otherwise pick, measured in one process.

Run: .venv/bin/python benchmarks/bench_compare.py    (or `make bench`, which installs the
`bench` extra: dynaconf, omegaconf, pydantic-settings)

- Read path, ns per field read: store.current().policy.max_positions beside a plain attribute
  read (the floor), the original design's RLock-guarded dict (a copy, as its get() returned, and
  a direct key read), Dynaconf (settings.MAX_POSITIONS), OmegaConf (cfg.max_positions) and
  pydantic-settings (Settings().max_positions, re-read the way it is used to pick up changes).
- Memory: peak RSS of a process holding a store on a 10,000-symbol policy, beside the same
  process holding the naive yaml.load dict of the same file.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
import timeit
from pathlib import Path
from typing import Any

import yaml
from _policies import generated_policy
from dynaconf import Dynaconf
from omegaconf import OmegaConf
from pydantic_settings import BaseSettings, SettingsConfigDict

from policyctl import PolicyStore

ROOT = Path(__file__).resolve().parent.parent


class OriginalStore:
    """The seed's InMemoryPolicyStore read path: a dict behind an RLock."""

    def __init__(self, policy: dict[str, Any]) -> None:
        self._lock = threading.RLock()
        self._policy = policy

    def get(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._policy)

    def get_field(self, name: str) -> Any:
        with self._lock:
            return self._policy[name]


def _ns(stmt: str, env: dict[str, Any], number: int) -> float:
    return min(timeit.repeat(stmt, globals=env, number=number, repeat=5)) / number * 1e9


def read_rows(policy_file: Path) -> dict[str, float]:
    class Settings(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="QT_")
        max_positions: int = 5
        max_risk_per_trade: float = 0.01
        risk_mode: str = "NORMAL"

    class Holder:
        pass

    data = yaml.safe_load(policy_file.read_text())
    holder = Holder()
    holder.max_positions = data["max_positions"]  # type: ignore[attr-defined]
    with PolicyStore(policy_file, env={}) as store:
        env = {
            "holder": holder,
            "store": store,
            "original": OriginalStore(data),
            "dynaconf": Dynaconf(settings_files=[str(policy_file)], envvar_prefix="QT"),
            "omega": OmegaConf.load(policy_file),
            "Settings": Settings,
        }
        return {
            "plain attribute read (floor)": _ns("holder.max_positions", env, 2_000_000),
            "policyctl store.current().policy.max_positions": _ns(
                "store.current().policy.max_positions", env, 2_000_000
            ),
            "original RLock store, get()['max_positions'] (copy)": _ns(
                "original.get()['max_positions']", env, 500_000
            ),
            "original RLock store, locked key read": _ns(
                "original.get_field('max_positions')", env, 1_000_000
            ),
            "Dynaconf settings.MAX_POSITIONS": _ns("dynaconf.MAX_POSITIONS", env, 100_000),
            "OmegaConf cfg.max_positions": _ns("omega.max_positions", env, 200_000),
            "pydantic-settings Settings().max_positions": _ns(
                "Settings().max_positions", env, 5_000
            ),
        }


_MEMORY_PROBE = """
import gc, re, sys, yaml
from policyctl import PolicyStore

def peak_kib():
    # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across exec, so a child of a
    # big process would report its parent's peak.
    return int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read())[1])

path = sys.argv[1]
data = open(path, "rb").read()
gc.collect()
before = peak_kib()
if sys.argv[2] == "store":
    held = PolicyStore(path, env={}, watch=False)
else:
    held = yaml.load(data, Loader=yaml.CSafeLoader)
print(before, peak_kib())
"""


def memory_rows(tmp: Path) -> dict[str, float]:
    path = tmp / "policy-10k.yaml"
    path.write_bytes(generated_policy(10_000))
    out = {}
    for what in ("naive", "store"):
        result = subprocess.run(
            [sys.executable, "-c", _MEMORY_PROBE, str(path), what],
            capture_output=True,
            text=True,
            check=True,
        )
        before, after = (int(v) / 1024 for v in result.stdout.split())  # KiB -> MiB
        out[what] = after
        out[f"{what} growth"] = after - before
    return out


def main() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        policy = tmp / "policy.yaml"
        policy.write_text((ROOT / "policy" / "policy.yaml").read_text())
        reads = read_rows(policy)
        memory = memory_rows(tmp)
    floor = reads["plain attribute read (floor)"]
    ours = reads["policyctl store.current().policy.max_positions"]
    print("read path: one field, ns per read (best of 5)")
    for label, ns in reads.items():
        print(f"  {label:<52} {ns:9.1f} ns  {ns / floor:7.1f}x floor  {ns / ours:7.1f}x ours")
    print(
        f"\npeak RSS holding the 10,000-symbol policy: store {memory['store']:.1f} MiB,"
        f" naive dict {memory['naive']:.1f} MiB ({memory['store'] / memory['naive']:.2f}x);"
        f" growth while loading: store {memory['store growth']:.1f} MiB,"
        f" naive {memory['naive growth']:.1f} MiB"
    )
    return {"read_ns": reads, "peak_rss_mib": memory}


if __name__ == "__main__":
    main()
