"""The whole pipeline on generated data of growing size, measured in temporary copies of
the template: wall time and peak memory per stage, and how each grows with the rows.

For each size, `data=synthetic` with about 30 columns (24 numbers, 6 categoricals,
5 % missing cells) runs through `dvc repro` in a fresh copy, each stage in its own
process (the stage server off), so that a stage's peak resident memory is its own.
Printed per stage and size: seconds (start-up, work and tracking) and peak MiB; then
the growth factor from one size to the next against the growth in rows (a stage whose
time grows faster than its rows is marked). Targets at 1e7 rows on an idle two-core
machine: the whole `dvc repro` under 15 minutes, every stage under 6 GiB.

    python benchmarks/scale.py                      # 1e5, 1e6 and 1e7 rows
    python benchmarks/scale.py --rows 100000 1000000
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path

from workspace import copy_template, timed, tool_env  # benchmarks/workspace.py

STAGES = ("collect", "validate", "prepare", "train", "evaluate")
WALL_TARGET_S = 15 * 60  # the whole repro at 1e7 rows
MEMORY_TARGET_MIB = 6 * 1024  # any stage's peak at 1e7 rows
DATA = ("data=synthetic", "data.n_numeric=24", "data.n_categorical=6", "data.missing_rate=0.05")


def run_size(rows: int) -> dict:
    """The pipeline on `rows` generated rows in a fresh copy: the whole repro's wall time
    and, per stage, its seconds and peak memory."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "template"
        copy_template(root)
        timings = Path(tmp) / "timings.jsonl"
        env = tool_env(root, MLOPS_TIMINGS=str(timings), MLOPS_STAGE_SERVER="0")
        command = [sys.executable, "-m", "mlops_template", "params", "compose"]
        timed([*command, *DATA, f"data.n_rows={rows}"], root, env)
        wall = timed(["dvc", "repro", "evaluate"], root, env)
        lines = [json.loads(line) for line in timings.read_text().splitlines()]
    stages = {
        line["stage"]: {
            "seconds": line["overhead_s"] + line["work_s"] + line["tracking_s"],
            "peak_mib": line["peak_mib"],
        }
        for line in lines
        if line["stage"] in STAGES
    }
    return {"rows": rows, "wall": wall, "stages": stages}


def report(results: list[dict]) -> int:
    sizes = [f"{r['rows']:.0e}".replace("e+0", "e") for r in results]
    head = "".join(f"{size + ' s':>10}{size + ' MiB':>12}" for size in sizes)
    print(f"{'stage':<10}{head}")
    for stage in STAGES:
        cells = "".join(
            f"{r['stages'][stage]['seconds']:>10.1f}{r['stages'][stage]['peak_mib']:>12.0f}"
            for r in results
        )
        print(f"{stage:<10}{cells}")
    walls = "".join(f"{r['wall']:>10.1f}{'':>12}" for r in results)
    print(f"{'dvc repro':<10}{walls}")
    failed = False
    for before, after in itertools.pairwise(results):
        rows = after["rows"] / before["rows"]
        print(f"\ngrowth from {before['rows']:,} to {after['rows']:,} rows ({rows:.0f}x):")
        for stage in STAGES:
            grew = after["stages"][stage]["seconds"] / before["stages"][stage]["seconds"]
            mark = "  faster than its rows" if grew > rows else ""
            memory = after["stages"][stage]["peak_mib"] / before["stages"][stage]["peak_mib"]
            print(f"  {stage:<10} time {grew:>6.1f}x  memory {memory:>6.1f}x{mark}")
    largest = results[-1]
    if largest["rows"] >= 10_000_000:
        peak = max(s["peak_mib"] for s in largest["stages"].values())
        wall_ok, memory_ok = largest["wall"] <= WALL_TARGET_S, peak <= MEMORY_TARGET_MIB
        print(
            f"\nat {largest['rows']:,} rows: dvc repro {largest['wall'] / 60:.1f} min "
            f"({'OK' if wall_ok else 'SLOW'}: target under {WALL_TARGET_S // 60} min), "
            f"largest stage peak {peak / 1024:.1f} GiB "
            f"({'OK' if memory_ok else 'TOO MUCH'}: target under {MEMORY_TARGET_MIB // 1024} GiB)"
        )
        failed = not (wall_ok and memory_ok)
    return int(failed)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rows",
        type=int,
        nargs="+",
        default=[100_000, 1_000_000, 10_000_000],
        help="the sizes to run, in rows",
    )
    args = parser.parse_args()
    start = time.perf_counter()
    results = []
    for rows in sorted(args.rows):
        results.append(run_size(rows))
        print(f"{rows:,} rows: dvc repro {results[-1]['wall']:.1f} s", file=sys.stderr)
    code = report(results)
    print(f"\n{time.perf_counter() - start:.0f} s in all")
    return code


if __name__ == "__main__":
    sys.exit(main())
