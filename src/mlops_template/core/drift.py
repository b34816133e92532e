"""Drift of a batch against a reference: one decision per feature, and for the batch.

Small samples are judged by a statistical test (Kolmogorov-Smirnov for numbers,
chi-squared for categories): its p-value below `p_value` means drift. With many rows a
test flags even negligible shifts, so above `large_sample_rows` a distance decides
(Wasserstein over the reference's standard deviation for numbers, Jensen-Shannon for
categories), as in evidently's defaults. Fewer than `min_rows` values: no decision.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial.distance import jensenshannon

from mlops_template.config import Monitor
from mlops_template.core.monitor_report import ColumnDrift, DatasetDrift, Performance
from mlops_template.core.raw_rows import as_days, as_text
from mlops_template.core.schema import TrainingSchema
from mlops_template.metric_names import improvement

DRIFT, NO_DRIFT, TOO_FEW = "drift", "no drift", "too few rows"
ID_LIKE = "like an ID: not compared"  # a value per row: new values are expected, not drift
ID_LIKE_SHARE = 0.9  # distinct values per reference row from which a column is like an ID
UNDECIDED = (TOO_FEW, ID_LIKE)
IN_RANGE, OUT_OF_RANGE = "in range", "out of range"
SHOWN_UNSEEN = 10  # unseen values a report lists
# Levels expected in fewer rows are counted with the rare and new ones: chi-squared's
# textbook floor, and for the distance more, whose noise grows with the levels compared.
CHI2_ROWS, DISTANCE_ROWS = 5, 20
RARE = "\x00rare or new"  # their one bucket: a name no value read as text has


def numeric_drift(reference: pd.Series, current: pd.Series, settings: Monitor) -> ColumnDrift:
    ref, cur = finite_values(reference), finite_values(current)
    result = _base("numeric", reference, current, len(ref), len(cur))
    if moved := missing_drift(result, reference, current, settings):
        return moved
    if min(len(ref), len(cur)) < settings.min_rows:
        return ColumnDrift(**result, decision=TOO_FEW)
    if min(len(ref), len(cur)) <= settings.large_sample_rows:
        test = stats.ks_2samp(ref, cur)
        return _tested(result, "ks", test.statistic, test.pvalue, settings.p_value)
    spread = float(ref.std()) or 1.0  # a constant reference: compare in raw units
    distance = stats.wasserstein_distance(ref, cur) / spread
    return _measured(result, "wasserstein_normed", distance, settings.wasserstein)


def categorical_drift(reference: pd.Series, current: pd.Series, settings: Monitor) -> ColumnDrift:
    ref = reference.dropna().astype(str)
    cur = current.dropna().astype(str)
    result = _base("categorical", reference, current, len(ref), len(cur))
    if moved := missing_drift(result, reference, current, settings):
        return moved
    if min(len(ref), len(cur)) < settings.min_rows:
        return ColumnDrift(**result, decision=TOO_FEW)
    seen = ref.value_counts()
    unseen = sorted(set(cur) - set(seen.index))
    result["unseen"] = unseen[:SHOWN_UNSEEN]
    result["unseen_share"] = round(float((~cur.isin(set(seen.index))).mean()), 6)
    if len(seen) >= ID_LIKE_SHARE * len(ref):  # its test would compare counts of one
        return ColumnDrift(**result, decision=ID_LIKE)
    # A column of many levels meets new ones all the time: as many new rows as the
    # reference has rows whose value it saw once (Good-Turing) are expected, not drift.
    expected = float((seen == 1).sum()) / len(ref)
    if result["unseen_share"] - expected >= settings.unseen_share:  # values the model never saw
        return ColumnDrift(
            **result,
            test="unseen",
            statistic=result["unseen_share"],
            threshold=settings.unseen_share,
            decision=DRIFT,
        )
    small = min(len(ref), len(cur)) <= settings.large_sample_rows
    ref_counts, cur_counts = level_counts(ref, cur, seen, CHI2_ROWS if small else DISTANCE_ROWS)
    if small:
        statistic, p_value = 0.0, 1.0  # one category on both sides: nothing can differ
        if len(ref_counts) >= 2:
            test = stats.chi2_contingency(np.vstack([ref_counts, cur_counts]))
            statistic, p_value = test.statistic, test.pvalue
        return _tested(result, "chi2", statistic, p_value, settings.p_value)
    distance = jensenshannon(ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum(), base=2)
    return _measured(result, "jensen_shannon", float(distance), settings.jensen_shannon)


def missing_drift(
    result: dict, reference: pd.Series, current: pd.Series, settings: Monitor
) -> ColumnDrift | None:
    """Drift in how often the column is missing, which the tests on its values cannot see
    (a feed that stopped filling it): its share moved by at least `missing_share`, beyond
    noise (Fisher's exact test on both sides' counts: the reference is a sample too, and
    a share of 0 in training is no certainty). None if not."""
    if min(len(current), len(reference)) < settings.min_rows:
        return None
    had, has = int(reference.isna().sum()), int(current.isna().sum())  # one pass each
    moved = round(has / len(current) - had / len(reference), 6)  # 12% - 2% is 0.1
    if abs(moved) < settings.missing_share:
        return None
    table = [[had, len(reference) - had], [has, len(current) - has]]  # missing, present
    p_value = stats.fisher_exact(table).pvalue
    if p_value >= settings.p_value:
        return None
    return ColumnDrift(
        **result,
        test="missing",
        statistic=float(moved),
        p_value=float(p_value),
        threshold=settings.missing_share,
        decision=DRIFT,
    )


def level_counts(
    ref: pd.Series, cur: pd.Series, seen: pd.Series, fewest: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rows per level on each side. Levels expected in fewer than `fewest` rows of the
    smaller side, and new ones, are counted as one: apart, their counts are noise, which a
    test or a distance reads as drift (a column of many levels has mostly such levels)."""
    kept = seen.index[seen * (min(len(ref), len(cur)) / len(ref)) >= fewest]
    ref, cur = ref.where(ref.isin(kept), RARE), cur.where(cur.isin(kept), RARE)
    categories = sorted(set(ref) | set(cur))
    return (
        ref.value_counts().reindex(categories, fill_value=0).to_numpy(),
        cur.value_counts().reindex(categories, fill_value=0).to_numpy(),
    )


def feature_drift(
    schema: TrainingSchema, reference: pd.DataFrame, current: pd.DataFrame, settings: Monitor
) -> dict[str, ColumnDrift]:
    """Per training column, its drift result."""
    found = {}
    for column in schema.columns:
        name = column.name
        if column.kind == "numeric":
            found[name] = numeric_drift(reference[name], current[name], settings)
            continue
        if column.kind == "date":  # compared as days since 1970
            ref, cur = (as_days(frame[name], name) for frame in (reference, current))
            found[name] = numeric_drift(ref, cur, settings)
            continue
        # Categories as the model reads them (core/raw_rows.py): "true" is "True".
        ref, cur = (as_text(frame[name], column.is_boolean) for frame in (reference, current))
        found[name] = categorical_drift(ref, cur, settings)
    return found


def dataset_drift(features: dict[str, ColumnDrift], drift_share: float) -> DatasetDrift:
    """The batch drifts when at least `drift_share` of the decided features drift."""
    decided = [name for name, r in features.items() if r.decision not in UNDECIDED]
    drifted = [name for name in decided if features[name].decision == DRIFT]
    share = len(drifted) / len(decided) if decided else 0.0
    return DatasetDrift(
        features=len(features),
        decided=len(decided),
        drifted=drifted,
        share=round(share, 6),
        drift_share=drift_share,
        decision=(DRIFT if share >= drift_share else NO_DRIFT) if decided else TOO_FEW,
    )


def performance(
    metric: str, batch: dict[str, Any], evaluation: float, trivial: float, max_drop: float
) -> Performance:
    """The batch's metric (`value` and bootstrap `interval`) against the model's score on
    its evaluation data. Out of range only when even the interval's best end is worse
    than that score by more than `max_drop` times the model's lead over the trivial
    baseline (`trivial`, the majority class or mean): a scale-free allowance, and a batch
    too small to tell is not called out of range."""
    allowed = max_drop * max(improvement(metric, evaluation, trivial), 0.0)
    best = max(batch["interval"], key=lambda v: improvement(metric, v, evaluation))
    return Performance(
        metric=metric,
        batch=batch["value"],
        batch_interval=batch["interval"],
        baseline=evaluation,
        trivial=trivial,
        drop=round(-improvement(metric, batch["value"], evaluation), 6),
        max_drop=round(allowed, 6),
        max_drop_share=max_drop,
        decision=OUT_OF_RANGE if -improvement(metric, best, evaluation) > allowed else IN_RANGE,
    )


def finite_values(values: pd.Series) -> np.ndarray:
    """The numbers, without missing or infinite values (which no distance can place)."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64")
    return numbers[np.isfinite(numbers)]


def _base(kind: str, reference: pd.Series, current: pd.Series, n_ref: int, n_cur: int) -> dict:
    return {
        "kind": kind,
        "reference_rows": n_ref,
        "current_rows": n_cur,
        "reference_missing": round(float(reference.isna().mean()), 6) if len(reference) else 0.0,
        "current_missing": round(float(current.isna().mean()), 6) if len(current) else 0.0,
    }


def _tested(result: dict, test: str, statistic: float, p_value: float, alpha: float) -> ColumnDrift:
    return ColumnDrift(
        **result,
        test=test,
        statistic=round(float(statistic), 6),
        p_value=float(p_value),
        threshold=alpha,
        decision=DRIFT if p_value < alpha else NO_DRIFT,
    )


def _measured(result: dict, test: str, distance: float, threshold: float) -> ColumnDrift:
    return ColumnDrift(
        **result,
        test=test,
        statistic=round(float(distance), 6),
        threshold=threshold,
        decision=DRIFT if distance > threshold else NO_DRIFT,
    )
