"""Load the configured data source into a frame: bundled sets, files, or generated."""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from mlops_template.config import Read
from mlops_template.config.data import Data, DemoData, FileData, SklearnData, SyntheticData
from mlops_template.core.raw_facts import Facts, Plan, decide
from mlops_template.core.raw_rows import MISSING_TOKENS, BadCells
from mlops_template.core.raw_tables import (
    conform_frame,
    duplicate_names,
    nested_columns,
    plain_arrow,
    text_as_str,
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
    refuse_unknown_drops(list(frame.columns), data)
    frame = conformed(frame.drop(columns=data.drop_columns), read or Read(), data.origin)
    return text_as_str(frame)  # mixed-type text columns as plain strings


def refuse_unknown_drops(columns: list[str], data: Data) -> None:
    missing = [c for c in data.drop_columns if c not in columns]
    if missing:
        raise PipelineError(f"{data.origin}: data.drop_columns names unknown columns {missing}")


def conformed(frame: pd.DataFrame, read: Read, source: str) -> pd.DataFrame:
    """`frame` by the contract; what was read as missing is said on stderr."""
    with _refused(source):
        frame, notes = conform_frame(frame, **_contract(read))
    _warn(notes, source)
    return frame


def planned(facts: Facts, read: Read, source: str) -> Plan:
    """The contract's plan for a table of these facts (core/raw_facts.py), as `conformed`
    decides it: the same refusals, and the same notes on stderr."""
    with _refused(source):
        plan = decide(facts, **_contract(read))
    _warn(plan.notes, source)
    return plan


def _contract(read: Read) -> dict[str, Any]:
    return {
        "infinity": read.infinity,
        "non_numeric": read.non_numeric,
        "share": read.numeric_share,
        "dates": read.dates,
    }


@contextmanager
def _refused(source: str) -> Iterator[None]:
    try:
        yield
    except BadCells as err:
        raise PipelineError(f"{source}: {err}") from None


def _warn(notes: list[str], source: str) -> None:
    for note in notes:
        print(f"warning: {source}: {note}", file=sys.stderr)


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


def unbatched(
    columns: list[str], batches: list[tuple[Path, pd.DataFrame]], data: Data
) -> list[str]:
    """The source's columns that none of ct's labelled batches has, said on stderr: left out
    of the training data once batches join it. A batch holds what the model that scored it
    reads, its label and its split key; a column it lacks (a row number, a code) would be
    missing in exactly the added rows, and could turn from an identifier into a feature
    that marks them, which no batch would have to score."""
    if not batches:
        return []
    held = {str(name) for _, batch in batches for name in batch.columns}
    lacking = [c for c in columns if str(c) not in held and c != data.target]
    if lacking:
        print(
            f"note: {'column' if len(lacking) == 1 else 'columns'} {lacking} left out of "
            f"the training data, every row's: ct's labelled batches in {batches[0][0].parent}/ "
            "lack it (no model that scored them read it); to train on it, add it to those "
            "batches or move them out",
            file=sys.stderr,
        )
    return lacking


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


def delta_snapshot(data: FileData) -> tuple[Any, Any]:
    """The Delta table at data.path and its current version as an Arrow dataset (its
    files in the log's order, partition values as columns), refused if deltalake's Arrow
    reader cannot read it right: the pandas engine reads this dataset, Spark its files."""
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError, TableNotFoundError

    path = data.origin
    if "://" not in data.path and not Path(data.path).is_dir():
        what = "is a file, not a Delta table's folder" if Path(data.path).exists() else "not found"
        raise PipelineError(f"{path}: Delta table {what} (data.path)")
    try:
        table = DeltaTable(data.path)
        mapping = table.metadata().configuration.get("delta.columnMapping.mode", "none")
        if mapping != "none":  # deltalake would read its columns as all missing
            raise PipelineError(
                f"{path}: the Delta table's columns are mapped to other names in its files "
                f"(delta.columnMapping.mode={mapping}), which deltalake's Arrow reader cannot "
                "read: rewrite it without column mapping"
            )
        dataset = table.to_pyarrow_dataset()
    except TableNotFoundError:
        raise PipelineError(
            f"{path}: not a Delta table (no commit in its _delta_log folder) (data.path)"
        ) from None
    except (DeltaError, OSError) as err:
        raise PipelineError(f"{path}: cannot read as delta: {_first_line(err)}") from None
    refuse_duplicate_columns(dataset.schema.names, path)
    return table, dataset


def refuse_nested(arrow_schema: Any, data: FileData) -> None:
    nested = {n: t for n, t in nested_columns(arrow_schema).items() if n not in data.drop_columns}
    if nested:
        name, kind = next(iter(nested.items()))
        raise PipelineError(
            f"{data.path}: column '{name}' holds {kind} values, which a model cannot read: "
            "write it as columns of numbers or text, or list it in data.drop_columns"
        )


def _first_line(err: BaseException) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def refuse_missing_file(data: FileData) -> None:
    """A local data file (not a URL, nor a Delta table's folder) that is not there, or empty."""
    path = data.path
    if "://" not in path and data.format != "delta":
        file = Path(path)
        if file.is_dir():  # a folder of Parquet parts, or a Delta table read as a file
            raise PipelineError(
                f"{path}: is a folder; data.path names one .csv or .parquet file (a folder "
                "of Parquet parts: join them into one file; a Delta table: data=delta)"
            )
        if not file.is_file():
            raise PipelineError(f"{path}: data file not found (data.path)")
        if file.stat().st_size == 0:
            raise PipelineError(f"{path}: data file is empty (data.path)")


def _read_file(data: FileData) -> pd.DataFrame:
    path = data.path
    is_url = "://" in path
    refuse_missing_file(data)
    with read_errors(data):
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
        if data.format == "delta":
            table = delta_snapshot(data)[1].to_table()
        else:
            table = _parquet_table(path, is_url)
        refuse_nested(table.schema, data)
        # Read as a batch's Parquet file is (core/raw_rows.py), by pandas' own conversion.
        return plain_arrow(table).to_pandas()


@contextmanager
def read_errors(data: FileData) -> Iterator[None]:
    """A file that cannot be read (as data.format) refused in one line naming it."""
    try:
        yield
    except pd.errors.EmptyDataError:
        raise PipelineError(f"{data.path}: no columns to read, the CSV file is empty") from None
    except (
        pd.errors.ParserError,
        UnicodeDecodeError,
        ValueError,
        OSError,
        NotImplementedError,  # Arrow's, for a type it cannot read
    ) as err:
        raise PipelineError(
            f"{data.path}: cannot read as {data.format}: {_first_line(err)}"
        ) from None
