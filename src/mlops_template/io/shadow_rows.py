"""The logged requests a shadow model scored too (serve.shadow), each beside the answered
row and with its label where one has arrived: what shadow-report and promote compare."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from mlops_template.config.release import Gate
from mlops_template.core.labels import arrived_labels
from mlops_template.core.shadow import ShadowComparison, compare, pair_rows
from mlops_template.errors import NothingLogged
from mlops_template.io import labels_table, logged_predictions

NO_SHADOW = "no shadow rows logged (serve.shadow=challenger logs them)"


@dataclass(frozen=True)
class ShadowRows:
    pairs: int  # requests both models scored
    labelled: pd.DataFrame  # those with a label: core/shadow.pair_rows' columns and `label`
    classes: list[str] | None  # the logged classes (None: regression)

    def metric(self, gate: Gate) -> str:
        """The gate's metric for the task the rows were scored for."""
        return (gate.regression if self.classes is None else gate.classification).metric

    def compared(self, gate: Gate, min_rows: int) -> list[ShadowComparison]:
        """Each pair of versions that ran side by side, on the gate's metric and bootstrap."""
        return compare(self.labelled, self.metric(gate), self.classes, gate.bootstrap, min_rows)


def read(table: str, labels: str) -> ShadowRows:
    """Refused when the log holds no shadow rows."""
    log = logged_predictions.open_logged(table)
    names = logged_predictions.column_names(log)
    if "shadow" not in names:
        raise NothingLogged(f"{table}: {NO_SHADOW}")
    keep = [n for n in names if not n.startswith("input_")]
    pairs = pair_rows(logged_predictions.logged_frame(log, table, keep))
    if pairs.empty:
        raise NothingLogged(f"{table}: {NO_SHADOW}")
    # The classes these rows were scored with (a table may hold another model's too).
    proba = [n for n in names if n.startswith("proba_") and pairs[n].notna().any()]
    classes = [n.removeprefix("proba_") for n in proba] or None
    pairs["label"] = arrived_labels(pairs, labels_table.read(labels))
    labelled = pairs[pairs["label"].notna()].reset_index(drop=True)
    if classes is None:  # labels are stored as numbers for a regression, text otherwise
        labelled["label"] = labelled["label"].astype("float64")
    return ShadowRows(len(pairs), labelled, classes)
