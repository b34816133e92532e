"""Load the configured data source into a frame: bundled sets, files, or generated."""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

import pandas as pd

from mlops_template.config import Data, DemoData, FileData, Read, SklearnData, SyntheticData
from mlops_template.core.raw_rows import MISSING_TOKENS, BadCells
from mlops_template.core.raw_tables import (
    conform_frame,
    duplicate_names,
    nested_columns,
    plain_arrow,
)
from mlops_template.errors import PipelineError
from mlops_template.io.csv_lines import stray_carriage_return


def load_source(data: Data, read: Read | None = None) -> pd.DataFrame:
    """The source's rows, read by the raw-row contract (core/raw_rows.py)."""
    if isinstance(data, SklearnData):
        frame = _load_bundled(data.name)
    elif isinstance(data, FileData):
        frame = _read_file(data)
    elif isinstance(data, SyntheticData):
        from mlops_template.core.synthetic import generate

        frame = generate(data)
    elif isinstance(data, DemoData):
        from mlops_template.core.demo import customers

        frame = customers(data.n_rows, data.seed, data.target)
    else:
        raise TypeError(f"unknown data config {type(data).__name__}")
    missing = [c for c in data.drop_columns if c not in frame.columns]
    if missing:
        raise PipelineError(f"{data.origin}: data.drop_columns names unknown columns {missing}")
    frame = conformed(frame.drop(columns=data.drop_columns), read or Read(), data.origin)
    # Mixed-type text columns become plain strings so encoders see one type.
    text = [c for c in frame.columns if frame[c].dtype == object]
    return frame.astype({c: "str" for c in text}) if text else frame


def conformed(frame: pd.DataFrame, read: Read, source: str) -> pd.DataFrame:
    """`frame` by the contract; what was read as missing is said on stderr."""
    try:
        frame, notes = conform_frame(
            frame,
            infinity=read.infinity,
            non_numeric=read.non_numeric,
            share=read.numeric_share,
            dates=read.dates,
        )
    except BadCells as err:
        raise PipelineError(f"{source}: {err}") from None
    for note in notes:
        print(f"warning: {source}: {note}", file=sys.stderr)
    return frame


def incoming_folder(root: str, data: Data) -> Path:
    """Where `ct` adds this data source's labelled batches: a folder of its own under
    paths.incoming, so that another source's batches never join its rows. Its name stays
    the same for the same source: the bundled set's name; a file's stem and a hash of
    data.path as written (two files may share a name); a hash of a generator's settings."""
    if isinstance(data, SklearnData | DemoData):
        return Path(root) / data.name
    if isinstance(data, FileData):
        stem = re.sub(r"[^\w.-]", "_", Path(data.path).stem).lstrip(".") or "file"
        return Path(root) / f"{stem}-{_digest(data.path)}"
    # As configured: a setting added to the generator later keeps the folder.
    settings = data.model_dump(mode="json", exclude={"watch", "drop_columns"}, exclude_unset=True)
    return Path(root) / f"synthetic-{_digest(json.dumps(settings, sort_keys=True))}"


def _digest(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()[:8]


def labelled_batches(root: str, data: Data) -> list[tuple[Path, pd.DataFrame]]:
    """The labelled batches `ct` added for this data source (Parquet, in name order)."""
    folder = incoming_folder(root, data)
    for stray in sorted(Path(root).glob("*.parquet")):  # added before sources had folders
        print(
            f"warning: {stray} is in no data source's folder and is not read: if it is "
            f"this source's, `dvc move` it (its .dvc file follows) into {folder}/",
            file=sys.stderr,
        )
    return [(path, pd.read_parquet(path)) for path in sorted(folder.glob("*.parquet"))]


def _parquet_table(path: str, is_url: bool):
    """The Parquet file as Arrow read it: pd.read_parquet is this table's to_pandas()."""
    if is_url:  # fetched as pandas fetches URLs, the Arrow types kept through the frame
        import pyarrow as pa

        frame = pd.read_parquet(path, dtype_backend="pyarrow")
        return pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata()
    import pyarrow.parquet as pq

    refuse_duplicate_columns(pq.read_schema(path).names, path)
    return pq.read_table(path)


def csv_header(path: str, sep: str) -> list[str]:
    """The header row as written (read as a row: as a header, pandas would rename a
    repeated name to 'name.1')."""
    row = pd.read_csv(path, sep=sep, header=None, nrows=1, dtype=str, keep_default_na=False)
    return row.iloc[0].tolist() if len(row) else []


def refuse_duplicate_columns(names: list[str], source: str | Path) -> None:
    repeated = duplicate_names([str(n) for n in names])
    if repeated:
        raise PipelineError(
            f"{source}: duplicate column names {repeated}; a repeated column (a copy of the "
            "target, say) would be read as another feature: rename or remove it"
        )


def _load_bundled(name: str) -> pd.DataFrame:
    from sklearn import datasets

    loader = {
        "breast_cancer": datasets.load_breast_cancer,
        "wine": datasets.load_wine,
        "diabetes": datasets.load_diabetes,
    }[name]
    return loader(as_frame=True).frame


def _read_file(data: FileData) -> pd.DataFrame:
    path = data.path
    is_url = "://" in path
    if not is_url:
        file = Path(path)
        if not file.is_file():
            raise PipelineError(f"{path}: data file not found (data.path)")
        if file.stat().st_size == 0:
            raise PipelineError(f"{path}: data file is empty (data.path)")
    try:
        if data.format == "csv":
            # pandas would split the row there and fill both halves with missing values.
            stray = None if is_url else stray_carriage_return(path, data.sep)
            if stray:
                raise PipelineError(f"{path}: {stray}")
            refuse_duplicate_columns(csv_header(path, data.sep), path)
            # The contract's missing markers. pandas 3 parses numbers correctly rounded,
            # as Arrow (batches) and JSON (REST) do: the same cell, the same float.
            return pd.read_csv(
                path, sep=data.sep, na_values=list(MISSING_TOKENS), keep_default_na=False
            )
        table = _parquet_table(path, is_url)
        nested = {
            n: t for n, t in nested_columns(table.schema).items() if n not in data.drop_columns
        }
        if nested:
            name, kind = next(iter(nested.items()))
            raise PipelineError(
                f"{path}: column '{name}' holds {kind} values, which a model cannot read: "
                "write it as columns of numbers or text, or list it in data.drop_columns"
            )
        # Read as a batch's Parquet file is (core/raw_rows.py), by pandas' own conversion.
        return plain_arrow(table).to_pandas()
    except pd.errors.EmptyDataError:
        raise PipelineError(f"{path}: no columns to read, the CSV file is empty") from None
    except (
        pd.errors.ParserError,
        UnicodeDecodeError,
        ValueError,
        OSError,
        NotImplementedError,  # Arrow's, for a type it cannot read
    ) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise PipelineError(f"{path}: cannot read as {data.format}: {reason}") from None
