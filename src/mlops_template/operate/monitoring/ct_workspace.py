"""What a CT retraining changes in the workspace (the batch's rows as training data,
conf/, params.yaml, dvc.lock and the outputs git keeps), and putting it back when no try
is promoted: the workspace is then the champion's again."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import numpy as np
import pandas as pd

from mlops_template.compose import CONF_DIR
from mlops_template.config import Config
from mlops_template.core.batch_checks import as_training_types
from mlops_template.core.raw_rows import BadCells
from mlops_template.core.row_ids import row_ids
from mlops_template.core.schema import TrainingSchema
from mlops_template.errors import PipelineError
from mlops_template.io.atomic import write_parquet
from mlops_template.io.datasets import incoming_folder
from mlops_template.io.dvc_cache import uncached_outputs
from mlops_template.io.lineage import LOCK_FILE, file_md5
from mlops_template.io.parquet_chunks import CHUNK_ROWS, exact_pandas
from mlops_template.operate.monitoring.monitor import (
    labelled_rows,
    read_batch,
    refuse_unseen_classes,
)


def training_rows(path: Path, schema: TrainingSchema, cfg: Config) -> pd.DataFrame:
    """The batch's labelled rows in the training data's types, for `collect` to add to
    its source's rows in one Parquet file: a CSV batch's dates are text until then. With
    a split key, each row's key too (typed as the training data's), or the split could
    not place the rows: labelled rows without it are refused."""
    rows, keys = _labelled(path, schema, cfg)
    key = cfg.split.key
    if keys is None or key is None:
        return rows
    dtype = pd.read_parquet(cfg.paths.raw, columns=[key]).dtypes[key]
    try:
        keys = keys.astype(dtype)
    except (TypeError, ValueError):
        raise PipelineError(
            f"{path}: column '{key}' (split.key) does not hold {dtype} values as the "
            "training data does; not added to the training data"
        ) from None
    return rows.assign(**{key: keys})[[key, *rows.columns]]


def refuse_unaddable(path: Path, schema: TrainingSchema, cfg: Config) -> None:
    """ct's check before the champion scores and logs a batch: labelled rows retraining
    could not add (cells training refuses, no split key) refuse it, or a corrected file
    would be logged again. (The key's type is checked when rows are added.)"""
    rows, _ = _labelled(path, schema, cfg)
    refuse_unseen_classes(rows, schema, str(path))


def _labelled(
    path: Path, schema: TrainingSchema, cfg: Config
) -> tuple[pd.DataFrame, pd.Series | None]:
    """The labelled rows in training types, and their split keys (None without a key or
    labelled rows)."""
    frame = read_batch(path, schema, cfg)
    if schema.target.name not in frame:  # no labels at all: nothing to add
        return frame.iloc[:0], None
    try:
        rows = as_training_types(labelled_rows(frame, schema), schema)
    except BadCells as err:
        raise PipelineError(f"{path}: {err}; not added to the training data") from None
    key = cfg.split.key
    if key is None or rows.empty:
        return rows, None
    if key not in frame.columns:
        raise PipelineError(
            f"{path}: no column '{key}' (split.key), which places each training row on the "
            "train or test side; not added to the training data"
        )
    keys = frame.loc[rows.index, key]
    if missing := int(keys.isna().sum()):
        raise PipelineError(
            f"{path}: column '{key}' (split.key) is missing in {missing} labelled rows; "
            "not added to the training data"
        )
    return rows, keys


def already_held(rows: pd.DataFrame, files: list[Path]) -> np.ndarray:
    """Which of `rows` one of the Parquet `files` holds, equal in every column of `rows`
    (a file without all of them, from a model with other features, is not compared).
    Compared by row id (core/row_ids: an integer read as a float is the same value), a
    chunk of a file at a time: the training data need not fit in memory beside the batch."""
    import pyarrow.parquet as pq

    columns = list(rows.columns)
    wanted = row_ids(rows, columns)
    found = np.zeros(len(rows), dtype=bool)
    for file in files:
        if not file.is_file() or not set(columns) <= set(pq.read_schema(file).names):
            continue
        source = pq.ParquetFile(file, pre_buffer=False)  # as parquet_chunks reads
        for batch in source.iter_batches(batch_size=CHUNK_ROWS, columns=columns):
            found |= np.isin(wanted, row_ids(exact_pandas(batch), columns))
    return found


class Workspace:
    """What a retraining changes in the workspace, to put back if no try is promoted."""

    def __init__(self) -> None:
        self.saved: dict[Path, bytes | None] = {}
        self.added: list[Path] = []
        self.kept = ""  # the version whose workspace it is, once champion

    def save(self, *files: Path) -> None:
        for file in files:
            if file not in self.saved:
                self.saved[file] = file.read_bytes() if file.exists() else None

    def add_batch(self, cfg: Config, path: Path, schema: TrainingSchema) -> int:
        """The batch's labelled rows, as the data source's training data, under DVC; the
        number of rows added. With a split key, a row the training data holds already
        (the same key, features and label: collected, or added by an earlier ct, as the
        inference log's windows overlap from one run to the next) is left out, so that no
        row counts twice in training; without one, such rows are counted and added."""
        folder = incoming_folder(cfg.paths.incoming, cfg.data)
        target = folder / f"{file_md5(path)}.parquet"
        self.save(Path("params.yaml"), Path(LOCK_FILE), folder / ".gitignore")
        self.save(*sorted(Path(CONF_DIR).rglob("*.yaml")))
        self.save(*uncached_outputs())
        if target.exists():
            return 0
        rows = training_rows(path, schema, cfg)
        # A batch cut from the data, or ct --log's overlapping windows, can hold rows the
        # training data has (collected, or added by an earlier ct not yet collected).
        held = already_held(rows, [Path(cfg.paths.raw), *sorted(folder.glob("*.parquet"))])
        said = f"{held.sum()} of {path.name}'s {len(rows)} labelled rows"
        # Only rows with a split key are known again: without one, an equal row may be a
        # new observation.
        new = rows[~held] if cfg.split.key else rows
        if held.any() and cfg.split.key:
            print(f"{said} are in the training data already: left out", file=sys.stderr)
        elif held.any():
            print(
                f"{said} equal training rows in every column; added all the same (without "
                "split.key, an equal row may be a new observation)",
                file=sys.stderr,
            )
        if new.empty:
            return 0
        self.added += [target, target.with_name(target.name + ".dvc")]
        write_parquet(target, new.reset_index(drop=True))
        _run("dvc", "add", "--quiet", str(target))
        return len(new)

    def reset_conf(self) -> None:
        """conf/ as it was before any try changed it."""
        for file, content in self.saved.items():
            if file.parts[0] == CONF_DIR and content is not None:
                file.write_bytes(content)

    def keep(self, champion: str) -> None:
        self.kept = champion

    def restore(self) -> None:
        for file in self.added:
            file.unlink(missing_ok=True)
        for file, content in self.saved.items():
            if content is None:
                file.unlink(missing_ok=True)
            else:
                file.write_bytes(content)
        for folder in {file.parent for file in self.added}:  # the source's, if ct made it
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        if self.saved:
            _checkout()  # the outputs dvc.lock names again


@contextmanager
def restored_unless_promoted(moved_to: Callable[[], str] = str) -> Iterator[Workspace]:
    """The workspace put back at the end unless kept (a try's model became champion).
    On an error or a stop, `moved_to` says whether the champion moved all the same (the
    new one's name, or ""): an error after the move (its gate run not written, say)
    must not put back the old champion's workspace either."""
    workspace = Workspace()
    try:
        yield workspace
    except BaseException:
        # The registry not reachable: nothing known to have moved.
        with suppress(Exception):
            workspace.kept = workspace.kept or moved_to()
        if workspace.kept:  # stopped after the promotion: what its model came from stays
            print(
                f"ct stopped after {workspace.kept} became champion: the workspace holds "
                "what it was trained on (conf/, params.yaml, dvc.lock, data/incoming/): "
                "commit it",
                file=sys.stderr,
            )
        raise
    finally:
        if not workspace.kept:
            workspace.restore()


def _checkout(tries: int = 5) -> None:
    """`dvc checkout`, after the files were put back. A Ctrl-C reaches the try's `dvc
    repro` too, which holds DVC's lock while it stops: waited for. Failing, it says how to
    finish by hand (a CT trial: the outputs stayed the try's, and nothing said so)."""
    for attempt in range(tries):
        done = subprocess.run(["dvc", "checkout"], check=False, capture_output=True, text=True)
        said = _said(done)
        waiting = "unable to acquire lock" in said.lower() and attempt < tries - 1
        if done.returncode == 0 or not waiting:
            break
        time.sleep(1 + attempt)
    if done.returncode != 0:
        raise PipelineError(
            f"ct put conf/, params.yaml and dvc.lock back, but `dvc checkout` failed:\n{said}"
            "\nthe outputs may still be a try's: run `dvc checkout` once nothing else runs "
            "here (`dvc status` then says they are up to date)"
        )


def _run(*cmd: str) -> None:
    done = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise PipelineError(f"`{' '.join(cmd)}` failed:\n{_said(done)}")


def _said(done: subprocess.CompletedProcess) -> str:
    """What a failed command said: DVC says some errors (its lock taken) on stdout."""
    return done.stderr.strip() or done.stdout.strip() or f"exit {done.returncode}"
