"""Batch scoring throughput and peak memory against a bare `model.predict`, same run.

In a temporary copy of the template (pipeline run with the overrides, model promoted),
for each size a Parquet batch (the test set resampled) is scored, each time in a fresh
process: by `python -m mlops_template predict` (chunked, schema-checked, appended to a
Delta table), timed from process start to exit, and by a bare `model.predict` on the
whole batch already in memory. Prints rows per second and their ratio (target for the
whole call: >= 0.8 at 1e6 rows), the fixed cost (the whole call less its scoring loop:
start-up, imports, registry lookup, model load; target < 3 s) and each process's peak
memory (target: independent of batch size for `predict`).

Each figure is the median of `--repeat` runs (the scoring loop varies by ~10% here).

    python benchmarks/batch_scoring.py [--sizes 100000 1000000] [--huge] [--repeat 3]
        [model=linear ...]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from workspace import promoted_copy  # benchmarks/workspace.py

FIXED_LIMIT = 3.0  # seconds
WHOLE_SHARE = 0.8  # of the bare predict's rows per second, at 1e6 rows

BARE = """
import sys, time
import pandas as pd
from mlops_template.io.model_file import load_model
model = load_model("models/model.skops")
frame = pd.read_parquet(sys.argv[1]).drop(columns="target", errors="ignore")
start = time.perf_counter()
model.predict(frame)
print(time.perf_counter() - start)
"""


def measured(cmd: list[str], cwd: Path, env: dict) -> tuple[float, float, str]:
    """(wall seconds, peak resident memory in MiB, stdout and stderr) of a fresh process."""
    start = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-f", "%M", *cmd],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"failed:\n{done.stdout}\n{done.stderr}")
    peak_kib = int(done.stderr.strip().splitlines()[-1])
    return seconds, peak_kib / 1024, done.stdout + done.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--huge", action="store_true", help="also 10 million rows")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size (medians)")
    parser.add_argument("overrides", nargs="*", default=["model=hist_gradient_boosting"])
    args = parser.parse_args()
    sizes = args.sizes + ([10_000_000] if args.huge else [])
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "template"
        env = promoted_copy(root, *args.overrides)
        import pandas as pd

        test = pd.read_parquet(root / "data/prepared/test.parquet").drop(columns="target")
        print(
            f"{'rows':>10} {'bare rows/s':>12} {'scoring rows/s':>15} {'ratio':>6} "
            f"{'whole call':>11} {'ratio':>6} {'fixed s':>8} {'predict MiB':>12} {'bare MiB':>9}"
        )
        verdicts = []
        for size in sizes:
            batch = Path(tmp) / f"batch_{size}.parquet"
            test.sample(size, replace=True, random_state=0).reset_index(drop=True).to_parquet(
                batch, row_group_size=100_000
            )
            predict = [sys.executable, "-m", "mlops_template", "predict", str(batch)]
            # Its own process, not the warm stage server the pipeline left up: the call
            # as it starts cold, and its own peak memory.
            cold = {**env, "MLOPS_STAGE_SERVER": "0"}
            calls, loops, bares = [], [], []
            for run in range(args.repeat):  # a fresh table each time: nothing already scored
                table = str(Path(tmp) / f"table-{size}-{run}")
                ours, ours_mib, log = measured([*predict, "--table", table], root, cold)
                calls.append(ours)
                loops.append(float(re.search(r" in ([\d.]+) s\b", log).group(1)))
                _, bare_mib, out = measured([sys.executable, "-c", BARE, str(batch)], root, env)
                bares.append(float(out.splitlines()[0]))
            ours, loop, bare = map(statistics.median, (calls, loops, bares))
            print(
                f"{size:>10} {size / bare:>12,.0f} {size / loop:>15,.0f} {bare / loop:>6.2f} "
                f"{size / ours:>11,.0f} {bare / ours:>6.2f} {ours - loop:>8.2f} "
                f"{ours_mib:>12,.0f} {bare_mib:>9,.0f}"
            )
            verdicts.append(ours - loop < FIXED_LIMIT)
            if size >= 1_000_000:
                verdicts.append(bare / ours >= WHOLE_SHARE)
            batch.unlink()
    print("\nbare: model.predict only, on the batch already in memory (the baseline).")
    print("scoring: predict's read-check-score-write loop, first chunk to Delta commit.")
    print("whole call: `python -m mlops_template predict` from process start to exit.")
    print("fixed: the whole call less the scoring loop (start-up, lookup, model load).")
    print(f"each figure: the median of {args.repeat} runs.")
    print(f"fixed cost under {FIXED_LIMIT:.0f} s, whole call at 1e6 rows or more at least")
    print(f"{WHOLE_SHARE}x the bare predict: {'OK' if all(verdicts) else 'MISSED'}")
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
