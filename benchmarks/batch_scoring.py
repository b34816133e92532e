"""Batch scoring throughput and peak memory against a bare `model.predict`, same run.

For each size, a Parquet batch (the test set resampled) is scored twice, each in a fresh
process: by `python -m mlops_template predict` (chunked, schema-checked, appended to a
Delta table) and by a bare `model.predict` on the whole batch loaded in memory. Prints
rows per second, their ratio (target >= 0.8), and each process's peak memory (target:
independent of batch size for `predict`).

    python benchmarks/batch_scoring.py [--sizes 100000 1000000] [--huge]   # --huge adds 1e7
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from workspace import promoted_copy  # benchmarks/workspace.py

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

OURS = """
import sys, time
from mlops_template.config import load_config
from mlops_template.operate.predict import predict
start = time.perf_counter()
predict(load_config(), sys.argv[1], None, None, sys.argv[2])
print(time.perf_counter() - start)
"""


def measured(code: str, args: list[str], cwd: Path, env: dict) -> tuple[float, float, str]:
    """(seconds the code reports, peak resident memory in MiB, stderr) of a fresh process."""
    done = subprocess.run(
        ["/usr/bin/time", "-f", "%M", sys.executable, "-c", code, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        sys.exit(f"failed:\n{done.stdout}\n{done.stderr}")
    seconds = float(done.stdout.strip().splitlines()[-1])
    peak_kib = int(done.stderr.strip().splitlines()[-1])
    return seconds, peak_kib / 1024, done.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--huge", action="store_true", help="also 10 million rows")
    args = parser.parse_args()
    sizes = args.sizes + ([10_000_000] if args.huge else [])
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "template"
        env = promoted_copy(root)
        import pandas as pd

        test = pd.read_parquet(root / "data/prepared/test.parquet").drop(columns="target")
        print(
            f"{'rows':>10} {'bare rows/s':>12} {'scoring rows/s':>15} {'ratio':>6} "
            f"{'whole call':>11} {'ratio':>6} {'predict MiB':>12} {'bare MiB':>9}"
        )
        for size in sizes:
            batch = Path(tmp) / f"batch_{size}.parquet"
            test.sample(size, replace=True, random_state=0).to_parquet(
                batch, row_group_size=100_000
            )
            table = str(Path(tmp) / "table")
            ours, ours_mib, log = measured(OURS, [str(batch), table], root, env)
            loop = float(re.search(r"in ([\d.]+) s \(", log).group(1))
            bare, bare_mib, _ = measured(BARE, [str(batch)], root, env)
            print(
                f"{size:>10} {size / bare:>12,.0f} {size / loop:>15,.0f} {bare / loop:>6.2f} "
                f"{size / ours:>11,.0f} {bare / ours:>6.2f} {ours_mib:>12,.0f} {bare_mib:>9,.0f}"
            )
            batch.unlink()
    print("\nbare: model.predict only, on the batch already in memory (the baseline).")
    print("scoring: predict's read-check-score-write loop, first chunk to Delta commit.")
    print("whole call: also the registry lookup and model download and load (a few seconds).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
