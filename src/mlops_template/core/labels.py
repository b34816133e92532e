"""Labels that arrive after the predictions: matched to the inference log by an ID
column, kept in a table of their own, and joined to the logged rows when they are read.

A label names a row of the log by one of its columns (`key`: the request id, or the
data's ID column such as customer_id) and may say when it was true (`labelled_at`):
- a label with a time is the outcome of the predictions for that ID scored at or before
  it (the earliest such label after a prediction is that prediction's label);
- a label without one belongs to every prediction for that ID.
A label is the same label when its key, ID and time are; importing it again changes
nothing, and a different label for the same one is a conflict: the first stays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

SHOWN = 5  # IDs quoted in a report


@dataclass
class LabelImport:
    """What an import of labels found: the labels to store and the rest, counted."""

    rows: int
    new: pd.DataFrame  # key, id, label, labelled_at: to append
    already_known: int = 0
    unknown: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  # "id: stored -> new"
    repeated: int = 0  # rows the file gives again, label and all

    def summary(self, source: str) -> str:
        lines = [
            f"{source}: {self.rows} labels; {len(self.new)} matched logged predictions and "
            f"were added, {self.already_known} were already there, {len(self.unknown)} "
            f"unknown, {len(self.conflicts)} conflicted"
            + (f", {self.repeated} repeated in the file" if self.repeated else "")
        ]
        if self.unknown:
            lines.append(
                f"  unknown IDs (no logged prediction for them, or none before the label's time): "
                f"{', '.join(self.unknown[:SHOWN])}" + (" ..." if len(self.unknown) > SHOWN else "")
            )
        if self.conflicts:
            lines.append(
                "  conflicts (the stored label stays): "
                + "; ".join(self.conflicts[:SHOWN])
                + (" ..." if len(self.conflicts) > SHOWN else "")
            )
        return "\n".join(lines)


def sort_labels(
    incoming: pd.DataFrame, stored: pd.DataFrame, logged: pd.DataFrame, key: str
) -> LabelImport:
    """`incoming` (id, label, labelled_at) against the labels `stored` (key, id, label,
    labelled_at) and the log's rows (id, scored_at) by `key`."""
    result = LabelImport(rows=len(incoming), new=stored.iloc[:0].copy())
    incoming = incoming.assign(key=key, ident=_identity(incoming))
    # Within the file: one label per identity, or none where the file disagrees with itself.
    labels_per = incoming.groupby("ident")["label"].nunique()
    torn = set(labels_per[labels_per > 1].index)
    torn_ids = incoming.loc[incoming["ident"].isin(torn), "id"].drop_duplicates()
    result.conflicts += [f"{ident}: the file gives it more than one label" for ident in torn_ids]
    incoming = incoming[~incoming["ident"].isin(torn)]
    result.repeated = int(incoming["ident"].duplicated().sum())
    incoming = incoming.drop_duplicates("ident")

    mine = stored[stored["key"] == key]
    known = pd.Series(mine["label"].to_numpy(), index=_identity(mine).to_numpy())
    known = known[~known.index.duplicated()]
    stored_label = incoming["ident"].map(known)
    there = stored_label.notna().to_numpy()
    agree = there & (stored_label.to_numpy() == incoming["label"].to_numpy())
    result.already_known = int(agree.sum())
    clash = incoming[there & ~agree]
    result.conflicts += [
        f"{ident}: {old} -> {new}"
        for ident, old, new in zip(
            clash["id"], stored_label[there & ~agree], clash["label"], strict=True
        )
    ]
    fresh = incoming[~there]
    matched = _matched(fresh, logged)
    result.unknown = fresh.loc[~matched, "id"].astype(str).tolist()
    result.new = fresh.loc[matched, ["key", "id", "label", "labelled_at"]].reset_index(drop=True)
    return result


def keep_agreeing(found: LabelImport, stored: pd.DataFrame, logged: pd.DataFrame, key: str) -> None:
    """A new label for rows that another key's stored label already labels otherwise (a
    row labelled by customer_id, then by its request_id) is a conflict too: the stored
    label stays. Only the new labels that would label such a row are dropped (a later
    timed label of the same ID may label other rows). `logged` holds the rows' IDs under
    each key (columns named by key) and when each was scored. Changes `found` in place."""
    others = stored[(stored["key"] != key) & stored["key"].isin(logged.columns)]
    if others.empty or found.new.empty:
        return
    before = arrived_labels(logged, others)
    # Which new label each row would take: join their positions instead of their values.
    new = found.new.reset_index(drop=True)
    which = join_labels(logged, new.assign(label=range(len(new))), key)
    taken = which.notna()
    after = pd.Series(None, index=logged.index, dtype=object)
    after[taken] = new["label"].to_numpy()[which[taken].astype(int)]
    clash = before.notna() & taken & (before.astype(str) != after.astype(str))
    if not clash.any():
        return
    was = pd.Series(before[clash].to_numpy(), index=which[clash].astype(int).to_numpy())
    was = was[~was.index.duplicated()].sort_index()
    torn = new.loc[was.index]
    at = pd.to_datetime(torn["labelled_at"], utc=True).dt.strftime(" at %Y-%m-%dT%H:%M:%S")
    found.conflicts += [
        f"{ident}{when}: {old} (by another ID) -> {label}"
        for ident, when, old, label in zip(
            torn["id"], at.fillna(""), was, torn["label"], strict=True
        )
    ]
    found.new = new.drop(index=was.index).reset_index(drop=True)


def _identity(labels: pd.DataFrame) -> pd.Series:
    """A label's identity within its key: its ID and its time (or none)."""
    at = pd.to_datetime(labels["labelled_at"], utc=True)
    when = at.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").fillna("")
    return labels["id"].astype(str) + "\x00" + when


def _matched(labels: pd.DataFrame, logged: pd.DataFrame) -> np.ndarray:
    """Whether each label has a logged prediction for its ID at or before its time."""
    first = logged.groupby("id")["scored_at"].min()
    scored = first.reindex(labels["id"]).to_numpy()
    present = ~pd.isna(scored)
    timed = labels["labelled_at"].notna().to_numpy()
    in_time = np.ones(len(labels), dtype=bool)
    if timed.any():
        at = pd.to_datetime(labels["labelled_at"], utc=True).to_numpy()
        in_time[timed & present] = (
            pd.to_datetime(scored[timed & present], utc=True).to_numpy() <= at[timed & present]
        )
    return present & in_time


def join_labels(logged: pd.DataFrame, labels: pd.DataFrame, key: str) -> pd.Series:
    """The label of each logged row (None where none has arrived), by the rules above:
    the earliest timed label at or after the row's `scored_at`, else the untimed one."""
    labels = labels[labels["key"] == key]
    ids = logged[key].astype("string")
    result = pd.Series(None, index=logged.index, dtype=object)
    untimed = labels[labels["labelled_at"].isna()].drop_duplicates("id").set_index("id")["label"]
    result[:] = ids.map(untimed).astype(object).to_numpy()
    timed = labels[labels["labelled_at"].notna()]
    if not timed.empty:
        left = pd.DataFrame(
            {
                "id": ids,
                "at": pd.to_datetime(logged["scored_at"], utc=True).dt.as_unit("us"),
                "row": logged.index,
            }
        ).dropna(subset=["id"])
        right = pd.DataFrame(
            {
                "id": timed["id"].astype("string"),
                "at": pd.to_datetime(timed["labelled_at"], utc=True).dt.as_unit("us"),
                "label": timed["label"],
            }
        )
        joined = pd.merge_asof(
            left.sort_values("at"), right.sort_values("at"), on="at", by="id",
            direction="forward",
        )  # fmt: skip
        found = joined.dropna(subset=["label"])
        result.loc[found["row"].to_numpy()] = found["label"].to_numpy()
    return result.where(result.notna(), None)


def arrived_labels(logged: pd.DataFrame, labels: pd.DataFrame) -> pd.Series:
    """Each logged row's label (None where none has arrived), by whichever of its ID
    columns the labels were matched on (request_id, the data's ID, ...)."""
    found = pd.Series(None, index=logged.index, dtype=object)
    for key in labels["key"].dropna().unique():
        if key in logged:
            found = found.where(found.notna(), join_labels(logged, labels, key))
    return found
