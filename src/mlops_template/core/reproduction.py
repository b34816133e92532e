"""Whether a rebuilt model version is the registered one, and if not, what differs.

Pure: release/reproduce.py checks out the version's commit, rebuilds it and hands the
digests here. What differs is named by kind: `code`, `params` and `data` when the
commit's dvc.lock recorded other inputs than the commit holds (the model was built from
something that was never committed), or the rebuilt data differs; `environment` when the
packages or Python the version was logged with are not the ones here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

KINDS = ("uncommitted", "code", "params", "data", "environment")
# The registered version as serve and predict load it (the artifact store's copy) against
# the rebuild, by their scores on the rebuilt test rows: the store's copy is what runs,
# and a copy changed there differs from the model the version's tags record.
SERVED = "the served model (the artifact store's copy), by its scores on the test rows"
ARTIFACT = (
    "the artifact store's copy scores otherwise than the model file it records: changed there?"
)
ENVIRONMENT_FILES = ("uv.lock", "conda.yaml", "pyproject.toml")


def kind_of(path: str) -> str:
    """What an input of the pipeline is, by its path."""
    top = path.split("/", maxsplit=1)[0]
    if path in ENVIRONMENT_FILES:
        return "environment"
    if top in ("params.yaml", "conf") or path.startswith("params.yaml:"):
        return "params"
    if path.endswith(".py") or top == "src" or path == "dvc.yaml":
        return "code"
    return "data"


def stale_inputs(
    lock: dict[str, Any],
    md5_of: Callable[[str], str | None],
    params: dict[str, Any],
    changed_dirs: frozenset[str] = frozenset(),
) -> dict[str, list[str]]:
    """The inputs whose digest or value in the commit's dvc.lock is not what the commit
    holds, by kind: a file by its path, a param by `key: locked -> now`, a directory
    (conf/, data/incoming/) if it is among `changed_dirs` (DVC's own digest of it says
    so). Outputs of other stages are rebuilt, not compared."""
    stages = (lock.get("stages") or {}).values()
    outputs = {out["path"] for stage in stages for out in stage.get("outs", [])}
    found: dict[str, set[str]] = {}
    for stage in stages:
        for dep in stage.get("deps", []):
            path, locked = dep["path"], dep.get("md5", "")
            if path in outputs or not locked:  # URLs have no md5
                continue
            if path in changed_dirs if locked.endswith(".dir") else md5_of(path) != locked:
                found.setdefault(kind_of(path), set()).add(path)
        for values in (stage.get("params") or {}).values():
            for key, locked in (values or {}).items():
                now = lookup(params, key)
                if now != locked:
                    found.setdefault("params", set()).add(f"{key}: {locked!r} -> {now!r}")
    return {kind: sorted(found[kind]) for kind in KINDS if kind in found}


def lookup(params: dict[str, Any], key: str) -> Any:
    """A dotted key's value in a params dict (None when it is not there)."""
    value: Any = params
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


@dataclass(frozen=True)
class Compared:
    """One registered output against its rebuild."""

    name: str
    registered: str | None
    rebuilt: str | None

    @property
    def same(self) -> bool:
        return self.registered is not None and self.registered == self.rebuilt

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "registered": self.registered,
            "rebuilt": self.rebuilt,
            "same": self.same,
        }


@dataclass(frozen=True)
class Reproduction:
    model: str  # "mlops-template v3"
    commit: str
    outputs: list[Compared]  # the model file, the train and test data, the metrics
    stale: dict[str, list[str]] = field(default_factory=dict)  # stale_inputs' kinds
    environment: list[str] = field(default_factory=list)  # "scikit-learn 1.7.2 -> 1.8.0"
    notes: list[str] = field(default_factory=list)  # what could not be compared, and why

    @property
    def identical(self) -> bool:
        return all(output.same for output in self.outputs)

    def differs(self) -> dict[str, list[str]]:
        """What differs, by kind: the inputs that were not as committed, the rebuilt data
        that is not the registered data, the environment. Empty when identical; when
        nothing explains a difference, `unrecorded`."""
        if self.identical:
            return {}
        found = {kind: list(items) for kind, items in self.stale.items()}
        data = [o.name for o in self.outputs if o.name.endswith("data") and not o.same]
        if data:
            found.setdefault("data", []).extend(data)
        if self.environment:
            found.setdefault("environment", []).extend(self.environment)
        # The store's copy scoring otherwise than a rebuild of the very file the tags
        # record: changed in the store (after another rebuild, it is expected to differ).
        same = {o.name for o in self.outputs if o.same}
        if (
            "model file" in same
            and any(o.name == SERVED for o in self.outputs)
            and (SERVED not in same)
        ):
            found["artifact"] = [ARTIFACT]
        if not found:
            found["unrecorded"] = ["none of the recorded inputs differ (hardware, threads?)"]
        return {kind: found[kind] for kind in (*KINDS, "artifact", "unrecorded") if kind in found}

    def as_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "commit": self.commit,
            "identical": self.identical,
            "outputs": [o.as_json() for o in self.outputs],
            "differs": self.differs(),
            "stale_inputs": self.stale,
            "environment": self.environment,
            "notes": self.notes,
        }

    def lines(self) -> list[str]:
        said = [f"{self.model} rebuilt from commit {self.commit[:12]}:"]
        for output in self.outputs:
            if output.same:
                said.append(f"  {output.name}: identical ({output.registered})")
            elif output.registered is None and output.rebuilt is None:  # nothing to score
                said.append(f"  {output.name}: differs (not loaded: see below)")
            else:
                said.append(
                    f"  {output.name}: differs (registered {output.registered}, "
                    f"rebuilt {output.rebuilt})"
                )
        said += [f"  {note}" for note in self.notes]
        if self.identical:
            said.append("byte-identical: the registered model and metrics were rebuilt exactly")
            if self.stale:  # the lock was stale, in ways that did not change the outputs
                stale = "; ".join(f"{k}: {', '.join(v)}" for k, v in self.stale.items())
                said.append(f"  (the commit's dvc.lock recorded other inputs: {stale})")
            return said
        for kind, items in self.differs().items():
            shown = ", ".join(items[:5]) + (f" and {len(items) - 5} more" if len(items) > 5 else "")
            said.append(f"differs in {kind}: {shown}")
        return said


def scores_digest(model: Any, features: Any, classification: bool) -> str:
    """The md5 of a model's scores on some rows (class probabilities, else predictions),
    as float64 bytes: two models that score every row alike to the bit give one digest.
    The model is left set to one thread (its `n_jobs` settings): reproduce's models are
    loaded for this alone."""
    import hashlib

    import numpy as np

    # One thread: a forest sums its trees' probabilities in the order threads finish.
    params = model.get_params()
    model.set_params(**{k: 1 for k, v in params.items() if k.endswith("n_jobs") and v != 1})
    scores = model.predict_proba(features) if classification else model.predict(features)
    return hashlib.md5(np.ascontiguousarray(scores, dtype="float64").tobytes()).hexdigest()
