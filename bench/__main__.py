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
import traceback
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
    out = BENCH_DIR / "results"
    out.mkdir(exist_ok=True)
    rows: list[dict] = []
    failed: list[str] = []
    for name in names:
        started = time.monotonic()
        print(f"# running bench.{name} ...", flush=True)
        try:
            module_rows = importlib.import_module(f"bench.{name}").run()
        except Exception:  # one broken benchmark must not hide the others' numbers
            traceback.print_exc()
            failed.append(name)
            continue
        rows.extend(module_rows)
        # Each module's rows are kept as soon as they exist (a long run may be cut short).
        (out / f"{name}.json").write_text(json.dumps(module_rows, indent=2, default=str))
        print(f"# bench.{name} took {time.monotonic() - started:.1f}s", flush=True)
        print_table(module_rows)
    print("\n# all benchmarks")
    print_table(rows)
    (out / "latest.json").write_text(json.dumps(rows, indent=2, default=str))
    if failed:
        print(f"# FAILED: {', '.join(failed)}")
        return 1
    return 0


def print_table(rows: list[dict]) -> None:
    if not rows:
        return
    widths = {c: max(len(c), *(len(fmt(r.get(c))) for r in rows)) for c in COLUMNS}
    print()
    print("  ".join(c.ljust(widths[c]) for c in COLUMNS))
    print("  ".join("-" * widths[c] for c in COLUMNS))
    for row in rows:
        print("  ".join(fmt(row.get(c)).ljust(widths[c]) for c in COLUMNS))
    print(flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
