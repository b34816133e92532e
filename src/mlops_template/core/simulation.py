"""Simulated incoming batches (for demos and tests): held-out rows, optionally drifted."""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from mlops_template.core.schema import TrainingSchema


def simulated_batch(
    held_out: pd.DataFrame,
    schema: TrainingSchema,
    *,
    rows: int,
    drift: float,
    drifted_share: float,
    labels: bool,
    seed: int,
    key: str | None = None,
    taken: pd.Series | None = None,
    batch_name: str = "sim",
) -> tuple[pd.DataFrame, list[str]]:
    """`rows` rows drawn from the held-out data (at most all of them: a row drawn twice
    would be read as drift by monitor, and leak between train and test once ct adds the
    batch to the data); `drifted_share` of the columns moved by `drift`: numbers and
    dates shifted by `drift` standard deviations, and a `drift` share of each categorical
    value replaced by another category. The rows of a batch are new ones: with a split
    key, each gets a key of its own, marked with `batch_name` (a held-out row's key would
    put it on the test side): none of `taken` (the whole data set's keys; the held-out
    rows' when not given). The rows drawn depend on `batch_name` too. Returns the batch
    and the moved columns."""
    rng = np.random.default_rng(seed)
    # Another batch name, other rows, with the same seed too: two batches of the same
    # rows under other keys counted each row twice once ct added both.
    drawn = np.random.default_rng([seed, zlib.crc32(batch_name.encode())])
    batch = held_out.sample(min(rows, len(held_out)), random_state=drawn)
    batch = batch.reset_index(drop=True)
    columns = [c for c in schema.columns if not c.encoding]  # no categories kept to swap
    moved = []
    if drift > 0:
        count = max(1, round(drifted_share * len(columns)))
        picked = sorted(rng.choice(len(columns), size=count, replace=False))
        for column in (columns[i] for i in picked):
            name = column.name
            if column.kind == "numeric":
                spread = float(held_out[name].std()) or 1.0
                batch[name] = batch[name] + drift * spread
            elif column.kind == "date":  # moved later by `drift` spreads of its dates
                spread = held_out[name].std()
                step = spread if pd.notna(spread) and spread else pd.Timedelta(days=1)
                batch[name] = batch[name] + drift * step
            else:
                batch[name] = _swap_categories(batch[name], column.categories, drift, rng)
            moved.append(name)
    if key is not None and key in batch:
        batch[key] = new_keys(held_out[key] if taken is None else taken, len(batch), batch_name)
    if not labels:
        batch = batch.drop(columns=[schema.target.name])
    return batch, moved


NAME_SPAN = 10**7  # numeric keys a batch name has to itself, after the data set's largest


def new_keys(existing: pd.Series, rows: int, name: str) -> pd.Series:
    """`rows` keys none of `existing` has, and none another batch name's has: the batch's
    name and a number, or, for numeric keys, numbers after the largest in a range of the
    name's own (its digest picks one of NAME_SPAN keys; every batch started after the
    largest key before, so two batches scored before ct added either shared their keys,
    and labels for one labelled the other)."""
    import hashlib

    if pd.api.types.is_integer_dtype(existing) or pd.api.types.is_float_dtype(existing):
        start = int(existing.max()) + 1 if existing.notna().any() else 0
        # Keys the dtype holds exactly, and JSON and a float64 cast too (2**53 at most):
        # past the limit, keys start after the largest as before.
        dtype = getattr(existing.dtype, "numpy_dtype", existing.dtype)  # Int32 -> int32
        if pd.api.types.is_float_dtype(existing):
            limit = min(2 ** (np.finfo(dtype).nmant + 1), 2**53)
        else:
            limit = min(int(np.iinfo(dtype).max), 2**53)
        span = max(rows, NAME_SPAN)
        ranges = max((limit - start - span) // span, 1)
        digest = int.from_bytes(hashlib.md5(name.encode()).digest()[:8], "big")
        start += (digest % ranges) * span
        return pd.Series(range(start, start + rows), dtype=existing.dtype)
    return pd.Series([f"{name}-{i:07d}" for i in range(rows)], dtype="str")


def _swap_categories(values: pd.Series, categories: list[str], share: float, rng) -> pd.Series:
    """Replace a `share` of the values by the next category (the last by the first)."""
    if len(categories) < 2:
        return values
    following = {c: categories[(i + 1) % len(categories)] for i, c in enumerate(categories)}
    swap = (rng.random(len(values)) < min(share, 1.0)) & values.notna().to_numpy()
    present = values.dropna()
    # Its categories are "False", "True"; with gaps, pandas holds it as objects.
    if pd.api.types.is_bool_dtype(values.dtype) or (
        len(present) and present.map(type).eq(bool).all()
    ):
        # Kept booleans: swapped to text beside booleans, a Parquet batch was refused.
        out = values.copy()
        out[swap] = ~values[swap].astype(bool)
        return out
    out = values.astype(object).copy()
    out[swap] = values[swap].astype(str).map(lambda v: following.get(v, v))
    return out
