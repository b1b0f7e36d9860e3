"""Run every benchmark in this folder, each beside its peer library, and collect the results.

Usage: ``python benchmarks/run_all.py [--quick] [--json OUT.json] [names ...]``. Each benchmark
is a script ``benchmarks/<name>.py`` accepting ``--json`` (machine-readable output on stdout)
and ``--quick``; this driver runs them one after another in fresh processes, so one module's
warm caches never flatter another's figures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def discover() -> list[str]:
    return sorted(
        path.stem
        for path in HERE.glob("*.py")
        if not path.stem.startswith("_") and path.stem != "run_all"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--json", metavar="FILE", help="write all results to FILE as JSON")
    args = parser.parse_args(argv)
    names = args.names or discover()
    results: dict[str, object] = {}
    failed = []
    for name in names:
        command = [sys.executable, str(HERE / f"{name}.py"), "--json"]
        if args.quick:
            command.append("--quick")
        print(f"== {name}: {' '.join(command[1:])}", flush=True)
        start = time.perf_counter()
        run = subprocess.run(command, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - start
        if run.returncode != 0:
            failed.append(name)
            print(run.stderr[-4000:], file=sys.stderr)
            continue
        try:
            results[name] = json.loads(run.stdout)
        except json.JSONDecodeError:
            results[name] = {"raw": run.stdout}
        print(run.stdout if len(run.stdout) < 20_000 else run.stdout[:20_000])
        print(f"== {name}: done in {elapsed:.1f} s", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
