"""Pipeline timings on the bundled data set, measured in a temporary copy of the template.

Prints, with PYTHONDONTWRITEBYTECODE unset and set: a no-op `dvc repro` against `dvc
status` (target: within 1.5x); then for a full `dvc repro` with the stage server off
(each stage its own process), starting (the run's first stage starts it) and warm: the
wall time against the stages' own work (target: within 3x), and per stage the time from
process start to first work, the work itself, and MLflow tracking (target: start-up and
tracking under 1 s).

    python benchmarks/pipeline.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from workspace import copy_template, timed, tool_env  # benchmarks/workspace.py


def run_pipeline(tmp: Path, repeat: int, **extra: str) -> dict:
    """The bundled pipeline in a fresh copy: full repro, no-op repros, status, per stage;
    with the stage server off, then on (its first run starts it), then warm."""
    root = tmp / "template"
    copy_template(root)
    timings = tmp / "timings.jsonl"
    # The copy's code (PYTHONPATH) and its own folder for the server's socket: a server
    # of its own, started by this run and gone soon after it.
    env = tool_env(root, MLOPS_TIMINGS=str(timings), TMPDIR=str(tmp), **extra)
    # The bundled set, whatever conf/ selects; the `evaluate` target leaves out
    # data files tracked by .dvc files, which a copy of the git files lacks.
    timed(
        [sys.executable, "-m", "mlops_template", "params", "compose", "data=breast_cancer"],
        root,
        env,
    )
    runs = {}
    for name, command, server in [
        ("server off", ["dvc", "repro", "evaluate"], "0"),
        ("server starting", ["dvc", "repro", "-f", "evaluate"], "1"),
        ("server warm", ["dvc", "repro", "-f", "evaluate"], "1"),
    ]:
        if name == "server warm":
            _wait_for_server(tmp)
        timings.unlink(missing_ok=True)
        full = timed(command, root, {**env, "MLOPS_STAGE_SERVER": server})
        stages = [json.loads(line) for line in timings.read_text().splitlines()]
        runs[name] = {"full": full, "stages": stages}
    noop = [timed(["dvc", "repro", "evaluate"], root, env) for _ in range(repeat)]
    status = [timed(["dvc", "status", "evaluate"], root, env) for _ in range(repeat)]
    return {"runs": runs, "noop": noop, "status": status}


def _wait_for_server(tmp: Path, seconds: float = 120) -> None:
    """Until the stage server the last run started is listening (a socket under tmp)."""
    deadline = time.monotonic() + seconds
    while not list(tmp.glob("mlops-stages-*/*.sock")):
        if time.monotonic() > deadline:
            sys.exit(f"no stage server listening under {tmp} after {seconds:.0f} s")
        time.sleep(0.2)


def report(title: str, result: dict, repeat: int) -> None:
    noop_s, status_s = statistics.median(result["noop"]), statistics.median(result["status"])
    print(f"== {title}")
    print(f"no-op dvc repro (median of {repeat}):     {noop_s:7.2f} s")
    print(f"dvc status (median of {repeat}):          {status_s:7.2f} s")
    print(f"no-op repro / status:                    {noop_s / status_s:7.2f}x  (target <= 1.5x)")
    for name, run in result["runs"].items():
        work = sum(row["work_s"] for row in run["stages"])
        print(f"\n-- stage server: {name.removeprefix('server ')}")
        print(f"full pipeline (dvc repro, bundled data): {run['full']:7.2f} s")
        print(f"the stages' own work:                    {work:7.2f} s")
        ratio = run["full"] / work
        print(f"full / work:                             {ratio:7.2f}x  (target <= 3x)")
        head = ("stage", "start->work s", "work s", "tracking s", "fixed s")
        print(f"{head[0]:<10} {head[1]:>14} {head[2]:>8} {head[3]:>11} {head[4]:>8}")
        for row in run["stages"]:
            fixed = row["overhead_s"] + row["tracking_s"]
            print(
                f"{row['stage']:<10} {row['overhead_s']:>14.2f} {row['work_s']:>8.2f} "
                f"{row['tracking_s']:>11.2f} {fixed:>8.2f}"
            )
        worst = max(row["overhead_s"] + row["tracking_s"] for row in run["stages"])
        print(f"worst stage start-up + tracking: {worst:.2f} s (target < 1 s)")
    print()


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
