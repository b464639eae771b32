"""`make bench`: every benchmark in one run; figures printed and written to results.json.

Each figure is a ratio measured side by side in this process or this run, never an absolute
time alone: absolute times depend on the machine, ratios much less.
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

import bench_http
import bench_load
import bench_store


def main() -> int:
    results: dict[str, object] = {
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "processor": platform.machine(),
        }
    }
    print("== read path (issue 2) ==")
    results["read_path"] = bench_load.main()
    print("\n== hot reload (issue 3) ==")
    results["hot_reload"] = bench_store.main()
    print("\n== HTTP view (issue 5) ==")
    results["http"] = bench_http.main()
    out = Path(__file__).with_name("results.json")
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nwritten {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
