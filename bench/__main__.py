"""``python -m bench [name ...]``: run the benchmarks and print one table.

Every row puts our number beside its target and, where there is one, the bare ceiling
measured in the same run on the same machine. Results are also written as JSON to
``bench/results/latest.json`` so docs can quote them.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
COLUMNS = ("benchmark", "metric", "value", "unit", "ceiling", "target", "ok")


def discover() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules([str(BENCH_DIR)]) if not m.name.startswith("_"))


def fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    return "" if value is None else str(value)


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEMO_MODE", "true")
    names = argv or discover()
    rows: list[dict] = []
    for name in names:
        started = time.monotonic()
        module = importlib.import_module(f"bench.{name}")
        print(f"# running bench.{name} ...", flush=True)
        rows.extend(module.run())
        print(f"# bench.{name} took {time.monotonic() - started:.1f}s", flush=True)
    widths = {c: max(len(c), *(len(fmt(r.get(c))) for r in rows)) for c in COLUMNS} if rows else {}
    print()
    print("  ".join(c.ljust(widths[c]) for c in COLUMNS))
    print("  ".join("-" * widths[c] for c in COLUMNS))
    for row in rows:
        print("  ".join(fmt(row.get(c)).ljust(widths[c]) for c in COLUMNS))
    out = BENCH_DIR / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(rows, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
