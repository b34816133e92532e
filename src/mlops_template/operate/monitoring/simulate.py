"""simulate: write an incoming batch made from held-out data, for demos and tests.

The rows come from the evaluation split (`paths.test`), which the model never trained
on, each at most once (`--rows` beyond its size gets all of it); for the bundled demo,
new customers from its generator. `--drift` moves some columns. The file says it is
simulated: Parquet batches carry it in their metadata, and the command prints it.
"""

from __future__ import annotations

import json
import math
import sys
import zlib
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mlops_template.config import Config
from mlops_template.config.data import DemoData
from mlops_template.core.schema import TrainingSchema
from mlops_template.core.simulation import simulated_batch
from mlops_template.errors import PipelineError
from mlops_template.io.atomic import write_with
from mlops_template.io.batch_files import batch_format

MARKER = b"mlops_template.simulated"


def simulate(
    cfg: Config, out: str, *, rows: int, drift: float, drifted_share: float, labels: bool, seed: int
) -> int:
    # The options first: a wrong one is said as such, whatever the state of the project.
    # NaN fails every comparison, so the float checks say what is allowed, not what is not.
    if rows < 1:
        raise PipelineError(f"simulate --rows must be 1 or more, got {rows}")
    if not (math.isfinite(drift) and drift >= 0):
        raise PipelineError(
            f"simulate --drift must be a finite number >= 0 (standard deviations), got {drift}"
        )
    if not 0 < drifted_share <= 1:
        raise PipelineError(
            f"simulate --drifted-share must be above 0 and at most 1, got {drifted_share}"
        )
    if not 0 <= seed < 2**32:  # what numpy's and pandas' generators take
        raise PipelineError(f"simulate --seed must be from 0 to 2**32 - 1, got {seed}")
    schema_path, held_out_path = Path(cfg.paths.schema_), Path(cfg.paths.test)
    for path in (schema_path, held_out_path):
        if not path.is_file():
            raise PipelineError(f"{path}: not found; run `dvc repro` first")
    schema = TrainingSchema.read(schema_path)
    held_out = pd.read_parquet(held_out_path)
    source = str(held_out_path)
    if isinstance(cfg.data, DemoData):
        held_out, source = _new_customers(cfg, held_out, rows, seed, out)
    batch, moved = simulated_batch(
        held_out,
        schema,
        rows=rows,
        drift=drift,
        drifted_share=drifted_share,
        labels=labels,
        seed=seed,
        key=cfg.split.key,
        taken=_taken_keys(cfg, held_out),
        batch_name=Path(out).stem,
    )
    if len(batch) < rows:
        print(
            f"{source} holds {len(batch)} rows, so the batch has {len(batch)}, not "
            f"{rows}: a row drawn twice would read as drift, and leak between train and test "
            "once ct adds the batch",
            file=sys.stderr,
        )
    options = {
        "rows": len(batch),
        "drift": drift,
        "drifted_share": drifted_share,
        "labels": labels,
        "seed": seed,
        "source": source,
        "moved_columns": moved,
    }
    target = Path(out)
    if batch_format(target) == "csv":
        write_with(target, lambda tmp: batch.to_csv(tmp, index=False))
    else:
        table = pa.Table.from_pandas(batch, preserve_index=False)
        metadata = {**(table.schema.metadata or {}), MARKER: json.dumps(options).encode()}
        write_with(target, lambda tmp: pq.write_table(table.replace_schema_metadata(metadata), tmp))
    print(
        f"SIMULATED batch (for demos and tests) written to {target}: {len(batch)} rows from "
        f"{source}, drift {drift} on {moved or 'no columns'}, "
        f"{'with' if labels else 'without'} labels",
        file=sys.stderr,
    )
    return 0


def _taken_keys(cfg: Config, held_out: pd.DataFrame) -> pd.Series | None:
    """Every key the data set has (the collected rows, train and test sides and the rows
    ct added), besides the held-out rows': numbered after the test side's largest only, a
    new row took a training row's key, and once ct added it, labels by that key matched
    both."""
    key, raw = cfg.split.key, Path(cfg.paths.raw)
    if key is None or key not in held_out or not raw.exists():
        return None
    return pd.concat([held_out[key], pd.read_parquet(raw, columns=[key])[key]], ignore_index=True)


def _new_customers(
    cfg: Config, held_out: pd.DataFrame, rows: int, seed: int, out: str
) -> tuple[pd.DataFrame, str]:
    """The demo's generator draws new customers from the same churn model (a seed after
    the training data's), shaped as the held-out rows: as many as asked, none seen."""
    from mlops_template.io.datasets import load_source

    # Another batch (another file name) has other customers, with the same --seed too.
    batch = zlib.crc32(Path(out).stem.encode())
    data = cfg.data.model_copy(
        update={"n_rows": max(rows, 10), "seed": cfg.data.seed + 1 + seed + batch}
    )
    fresh = load_source(data, cfg.read)
    fresh = fresh[list(held_out.columns)].astype(held_out.dtypes.to_dict())
    return fresh, "new customers (the demo generator)"
