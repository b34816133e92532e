"""Pipeline timings on the bundled data set, measured in a temporary copy of the template.

Prints: the wall time of a full `dvc repro`; a no-op `dvc repro` against `dvc status`
(target: within 1.5x); and per stage, the time from process start to first work
(target: under 2 s), the work itself, and MLflow tracking.

    python benchmarks/pipeline.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from workspace import copy_template, timed, tool_env  # benchmarks/workspace.py


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each no-op command")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "template"
        copy_template(root)
        timings = Path(tmp) / "timings.jsonl"
        env = tool_env(root, MLOPS_TIMINGS=str(timings))
        # The bundled set, whatever conf/ selects; the `evaluate` target leaves out
        # data files tracked by .dvc files, which a copy of the git files lacks.
        timed(
            [sys.executable, "-m", "mlops_template", "params", "compose", "data=breast_cancer"],
            root,
            env,
        )
        full = timed(["dvc", "repro", "evaluate"], root, env)
        noop = [timed(["dvc", "repro", "evaluate"], root, env) for _ in range(args.repeat)]
        status = [timed(["dvc", "status", "evaluate"], root, env) for _ in range(args.repeat)]
        stages = [json.loads(line) for line in timings.read_text().splitlines()]

    noop_s, status_s = statistics.median(noop), statistics.median(status)
    print(f"full pipeline (dvc repro, bundled data): {full:7.2f} s")
    print(f"no-op dvc repro (median of {args.repeat}):     {noop_s:7.2f} s")
    print(f"dvc status (median of {args.repeat}):          {status_s:7.2f} s")
    print(f"no-op repro / status:                    {noop_s / status_s:7.2f}x  (target <= 1.5x)")
    print()
    print(f"{'stage':<10} {'start->work s':>14} {'work s':>8} {'tracking s':>11}")
    for row in stages:
        print(
            f"{row['stage']:<10} {row['overhead_s']:>14.2f} {row['work_s']:>8.2f} "
            f"{row['tracking_s']:>11.2f}"
        )
    worst = max(row["overhead_s"] for row in stages)
    print(f"\nworst stage overhead: {worst:.2f} s (target < 2 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
