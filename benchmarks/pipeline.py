"""Pipeline timings on the bundled data set, measured in a temporary copy of the template.

Prints, with PYTHONDONTWRITEBYTECODE unset and set: the wall time of a full `dvc repro`
against the stages' own work (target: within 3x); a no-op `dvc repro` against `dvc
status` (target: within 1.5x); and per stage, the time from process start to first work,
the work itself, and MLflow tracking (target: start-up and tracking under 1 s).

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


def run_pipeline(tmp: Path, repeat: int, **extra: str) -> dict:
    """The bundled pipeline in a fresh copy: full repro, no-op repros, status, per stage."""
    root = tmp / "template"
    copy_template(root)
    timings = tmp / "timings.jsonl"
    env = tool_env(root, MLOPS_TIMINGS=str(timings), **extra)
    # The bundled set, whatever conf/ selects; the `evaluate` target leaves out
    # data files tracked by .dvc files, which a copy of the git files lacks.
    timed(
        [sys.executable, "-m", "mlops_template", "params", "compose", "data=breast_cancer"],
        root,
        env,
    )
    full = timed(["dvc", "repro", "evaluate"], root, env)
    noop = [timed(["dvc", "repro", "evaluate"], root, env) for _ in range(repeat)]
    status = [timed(["dvc", "status", "evaluate"], root, env) for _ in range(repeat)]
    stages = [json.loads(line) for line in timings.read_text().splitlines()]
    return {"full": full, "noop": noop, "status": status, "stages": stages}


def report(title: str, run: dict, repeat: int) -> None:
    noop_s, status_s = statistics.median(run["noop"]), statistics.median(run["status"])
    work = sum(row["work_s"] for row in run["stages"])
    print(f"== {title}")
    print(f"full pipeline (dvc repro, bundled data): {run['full']:7.2f} s")
    print(f"the stages' own work:                    {work:7.2f} s")
    print(f"full / work:                             {run['full'] / work:7.2f}x  (target <= 3x)")
    print(f"no-op dvc repro (median of {repeat}):     {noop_s:7.2f} s")
    print(f"dvc status (median of {repeat}):          {status_s:7.2f} s")
    print(f"no-op repro / status:                    {noop_s / status_s:7.2f}x  (target <= 1.5x)")
    print()
    print(f"{'stage':<10} {'start->work s':>14} {'work s':>8} {'tracking s':>11} {'fixed s':>8}")
    for row in run["stages"]:
        fixed = row["overhead_s"] + row["tracking_s"]
        print(
            f"{row['stage']:<10} {row['overhead_s']:>14.2f} {row['work_s']:>8.2f} "
            f"{row['tracking_s']:>11.2f} {fixed:>8.2f}"
        )
    worst = max(row["overhead_s"] + row["tracking_s"] for row in run["stages"])
    print(f"worst stage start-up + tracking: {worst:.2f} s (target < 1 s)\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each no-op command")
    args = parser.parse_args()
    # Python keeps the bytecode it compiles unless PYTHONDONTWRITEBYTECODE is set (Docker
    # images, CI runners): measured both ways, each in a fresh copy.
    cases = {
        "PYTHONDONTWRITEBYTECODE unset": {"PYTHONDONTWRITEBYTECODE": ""},
        "PYTHONDONTWRITEBYTECODE=1": {"PYTHONDONTWRITEBYTECODE": "1"},
    }
    for title, extra in cases.items():
        with tempfile.TemporaryDirectory() as tmp:
            report(title, run_pipeline(Path(tmp), args.repeat, **extra), args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
