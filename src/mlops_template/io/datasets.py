"""Load the configured data source into a frame: bundled sets, files, or generated."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mlops_template.config import Data, FileData, SklearnData, SyntheticData
from mlops_template.errors import PipelineError


def load_source(data: Data) -> pd.DataFrame:
    if isinstance(data, SklearnData):
        frame = _load_bundled(data.name)
    elif isinstance(data, FileData):
        frame = _read_file(data)
    elif isinstance(data, SyntheticData):
        from mlops_template.core.synthetic import generate

        frame = generate(data)
    else:
        raise TypeError(f"unknown data config {type(data).__name__}")
    missing = [c for c in data.drop_columns if c not in frame.columns]
    if missing:
        raise PipelineError(f"{data.origin}: data.drop_columns names unknown columns {missing}")
    frame = frame.drop(columns=data.drop_columns)
    # Mixed-type text columns become plain strings so encoders see one type.
    text = [c for c in frame.columns if frame[c].dtype == object]
    return frame.astype({c: "str" for c in text}) if text else frame


def labelled_batches(folder: str) -> list[tuple[Path, pd.DataFrame]]:
    """The labelled batches `ct` added to the training data (Parquet, in name order)."""
    return [(path, pd.read_parquet(path)) for path in sorted(Path(folder).glob("*.parquet"))]


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
            return pd.read_csv(path, sep=data.sep)
        return pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        raise PipelineError(f"{path}: no columns to read, the CSV file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise PipelineError(f"{path}: cannot read as {data.format}: {reason}") from None
