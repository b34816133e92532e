"""A generated tabular data set: numeric and categorical columns, missing values, and
on request a column of many levels and a free-text one."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mlops_template.config.data import SyntheticData

CHUNK_ROWS = 200_000  # rows drawn at once: the working arrays beside the output columns

# m rows drawn from a generator: their features (one row of the array per feature, each
# one contiguous to copy) and their target.
Rows = Callable[[np.random.Generator, int], tuple[np.ndarray, np.ndarray]]


def generate(cfg: SyntheticData) -> pd.DataFrame:
    """Same config, same frame: the problem is drawn from `cfg.seed`, then the rows a chunk
    at a time, each chunk from (`cfg.seed`, its number), into preallocated columns."""
    rng = np.random.default_rng(cfg.seed)
    rows = _classification(cfg, rng) if cfg.task == "classification" else _regression(cfg, rng)
    # One informative column per feature column, in this order. Those binned into text
    # below are kept as float32 till then: 4 bytes a row, less than their text.
    names = [f"num_{i}" for i in range(cfg.n_numeric)]
    names += [f"cat_{j}" for j in range(cfg.n_categorical)]
    names += ["code"] * (cfg.n_levels > 0) + ["text"] * cfg.text
    columns = {
        name: np.empty(cfg.n_rows, np.float64 if name.startswith("num_") else np.float32)
        for name in names
    }
    y = np.empty(cfg.n_rows, np.int32 if cfg.task == "classification" else np.float64)
    for k, start in enumerate(range(0, cfg.n_rows, CHUNK_ROWS)):
        chunk = np.random.default_rng([cfg.seed, k])
        x, y_k = rows(chunk, min(CHUNK_ROWS, cfg.n_rows - start))
        stop = start + len(y_k)
        for i, column in enumerate(columns.values()):
            column[start:stop] = x[i]
            if cfg.missing_rate:
                column[start:stop][chunk.random(len(y_k)) < cfg.missing_rate] = np.nan
        y[start:stop] = y_k  # the target has no missing values
        del x, y_k  # before the next chunk's are drawn
    frame: dict[str, np.ndarray | pd.Series] = {}
    for name in names:
        values = columns.pop(name)  # each float column freed once it is text
        if name.startswith("num_"):
            frame[name] = values
        elif name.startswith("cat_"):
            # Letters at an informative column's quartiles: the category carries signal.
            frame[name] = _text(list("abcd"), _binned(values, 4))
        elif name == "code":
            frame[name] = levels_of(values, cfg.n_levels, rng)
        else:
            frame[name] = words_of(values, rng)
    if cfg.task == "classification":
        frame[cfg.target] = _text([f"class_{v}" for v in range(cfg.n_classes)], y)
    else:
        frame[cfg.target] = y
    return pd.DataFrame(frame, copy=False)


def _classification(cfg: SyntheticData, rng: np.random.Generator) -> Rows:
    """sklearn's make_classification (Guyon's design) with n_redundant=0, 2 clusters per
    class, class_sep 1 and flip_y=cfg.noise, its rows drawn a chunk at a time: each
    cluster a gaussian through its own random linear map, centred on a distinct corner
    of the hypercube over the informative features; then each feature shifted and scaled
    at random (its shift=None, scale=None), so the columns' ranges differ."""
    d, n_classes = cfg.n_informative, cfg.n_classes
    n_clusters = 2 * n_classes
    centroids = 2.0 * _corners(n_clusters, d, rng) - 1
    maps = 2 * rng.random((n_clusters, d, d)) - 1
    shift, scale = 2 * rng.random(d) - 1, 1 + 100 * rng.random(d)

    def rows(chunk: np.random.Generator, m: int) -> tuple[np.ndarray, np.ndarray]:
        cluster = chunk.integers(n_clusters, size=m)
        x = chunk.standard_normal((d, m))  # features by rows
        for c in range(n_clusters):
            mine = cluster == c
            x[:, mine] = maps[c].T @ x[:, mine] + centroids[c][:, None]
        x += shift[:, None]
        x *= scale[:, None]
        y = cluster % n_classes
        flip = chunk.random(m) < cfg.noise  # label noise: a random class
        y[flip] = chunk.integers(n_classes, size=flip.sum())
        return x, y

    return rows


def _corners(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """`n` distinct corners of the unit hypercube in `d` dimensions (0/1 coordinates)."""
    low = min(d, 30)  # distinct in their first `low` coordinates
    index = rng.choice(2**low, size=n, replace=False)
    bits = (index[:, None] >> np.arange(low)) & 1
    return np.hstack([bits, rng.integers(2, size=(n, d - low))])


def _regression(cfg: SyntheticData, rng: np.random.Generator) -> Rows:
    """sklearn's make_regression with every feature informative (its default: 10), a chunk
    at a time:
    gaussian features, a fixed coefficient vector, gaussian noise of sd cfg.noise * 100."""
    coef = 100 * rng.random(cfg.n_informative)

    def rows(chunk: np.random.Generator, m: int) -> tuple[np.ndarray, np.ndarray]:
        x = chunk.standard_normal((len(coef), m))  # features by rows
        return x, coef @ x + cfg.noise * 100 * chunk.standard_normal(m)

    return rows


def _binned(values: np.ndarray, n_bins: int) -> np.ndarray:
    """Each value's bin among `n_bins` of about equal rows (at its quantiles), -1 if NaN."""
    missing = np.isnan(values)
    present = values[~missing]
    cuts = np.quantile(present, np.linspace(0, 1, n_bins + 1)[1:-1]) if len(present) else []
    bins = np.searchsorted(cuts, values, side="right")
    bins[missing] = -1
    return bins


def _text(words: list[str], codes: np.ndarray) -> pd.Series:
    """`words[code]` for each code as a `str` column, NaN where the code is -1."""
    vocabulary = pa.array(words, pa.large_string())
    return pd.Series(vocabulary.take(pa.array(codes, mask=codes < 0)), dtype="str")


def levels_of(values: np.ndarray, n_levels: int, rng: np.random.Generator) -> pd.Series:
    """`values` binned into `n_levels` levels of about equal rows, named in random order:
    a level's effect is learnable, its name's order says nothing. NaN where `values` is."""
    names = rng.permutation(n_levels)
    return _text([f"L{names[b]:05d}" for b in range(n_levels)], _binned(values, n_levels))


SIGNAL_WORDS = 20  # one of these per row says which twentieth of the values it holds
FILLER_WORDS = 200  # and 3-8 of these say nothing: most rows' texts are unique
MOST_FILLERS = 8


def words_of(values: np.ndarray, rng: np.random.Generator) -> pd.Series:
    """Sentences whose one signal word encodes `values`' bin, among 3-8 distinct filler
    words in random order; NaN where `values` is. Built a chunk of rows at a time."""
    signal = _binned(values, SIGNAL_WORDS)
    fillers = [f"w{f}" for f in range(FILLER_WORDS)]
    vocabulary = pa.array(fillers + [f"s{s}" for s in range(SIGNAL_WORDS)], pa.large_string())
    space, nothing = pa.scalar(" ", pa.large_string()), pa.scalar(None, pa.large_string())
    slot = np.arange(MOST_FILLERS + 1)
    texts = []
    for start in range(0, len(values), CHUNK_ROWS):
        word = signal[start : start + CHUNK_ROWS, None]
        m = len(word)
        n = rng.integers(3, MOST_FILLERS + 1, size=(m, 1))  # fillers in the row
        at = rng.integers(0, n + 1)  # the signal word's place among them
        filler = _distinct(rng, m, MOST_FILLERS, FILLER_WORDS)
        index = np.take_along_axis(filler, np.minimum(slot - (slot > at), MOST_FILLERS - 1), 1)
        index = np.where(slot == at, FILLER_WORDS + word, index)
        words = [vocabulary.take(pa.array(index[:, s], mask=s > n[:, 0])) for s in slot]
        joined = pc.binary_join_element_wise(*words, space, null_handling="skip")
        texts.append(pc.if_else(pa.array(word[:, 0] < 0), nothing, joined))
    return pd.Series(pa.chunked_array(texts, pa.large_string()), dtype="str")


def _distinct(rng: np.random.Generator, m: int, k: int, n: int) -> np.ndarray:
    """`m` rows of `k` distinct integers below `n`, each row a uniform draw."""
    out = rng.integers(n, size=(m, k))
    while (again := (np.diff(np.sort(out, axis=1), axis=1) == 0).any(axis=1)).any():
        out[again] = rng.integers(n, size=(again.sum(), k))
    return out
