"""Typed, validated view of the composed config (`params.yaml`).

Every model is strict and frozen: an unknown key or a bad value fails at load time,
before any work starts, with the dotted key in the message.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator

from mlops_template.config.base import NOT_BOOL, Engine, PosInt, Seed, Strict
from mlops_template.config.data import Data
from mlops_template.config.model import Model
from mlops_template.config.operate import ContinuousTraining, Monitor, Predict, Serve
from mlops_template.config.release import Gate, Registry, Tracking
from mlops_template.errors import PipelineError

PARAMS_FILE = "params.yaml"


class Paths(Strict):
    raw: str
    incoming: str
    validation: str
    train: str
    test: str
    model: str
    schema_: str = Field(alias="schema")
    tuned: str
    cv: str
    metrics: str
    plots: str
    figures: str
    # Outputs go inside the project, where DVC tracks them (conf/paths/default.yaml).
    allow_outside: bool = False


class Validate(Strict):
    min_rows: Annotated[int, NOT_BOOL, Field(ge=2)]
    max_classes: Annotated[int, NOT_BOOL, Field(ge=2)]
    # A class is rare below this share of an even one (1/classes): a warning.
    min_class_ratio: Annotated[float, NOT_BOOL, Field(ge=0, le=1)] = 0.2
    # Classes with fewer rows than this: refused, their rows dropped, or merged into one.
    min_class_rows: Annotated[int, NOT_BOOL, Field(ge=2)] = 2
    small_classes: Literal["error", "drop", "merge"] = "error"
    merged_class: str | Annotated[int, NOT_BOOL] = "other"
    # A feature holding the target (core/dataset_checks.py): refused, or a warning.
    target_copies: Literal["error", "warn"] = "error"
    # Row numbers and codes (core/columns.py): not features, or kept as features.
    identifiers: Literal["drop", "keep"] = "drop"


class Split(Strict):
    test_size: Annotated[float, NOT_BOOL, Field(gt=0, lt=1)]
    seed: Seed
    key: str | None = None


class Features(Strict):
    numeric_imputer: Literal["median", "mean"] = "median"
    scale_numeric: bool = True
    max_categories: Annotated[int, NOT_BOOL, Field(ge=2)] | None = 20
    # A free-text column reaches the model as the weights of its most frequent words.
    text_terms: Annotated[int, NOT_BOOL, Field(ge=1)] = 100


class CrossValidation(Strict):
    """How the training rows score a model: model=auto's choice and tuning's trials
    (core/cross_validation.py)."""

    folds: Annotated[int, NOT_BOOL, Field(ge=2, le=20)] = 3
    # Past this many training rows, one hold-out split of `holdout` of them instead (at
    # least 1000: a hold-out of hundreds of rows).
    max_rows: Annotated[int, NOT_BOOL, Field(ge=1000)] = 20_000
    holdout: Annotated[float, NOT_BOOL, Field(ge=0.05, le=0.5)] = 0.2
    # Past this many training rows, the hold-out split is made in a sample of this many.
    sample_rows: Annotated[int, NOT_BOOL, Field(ge=1000)] = 1_000_000
    # Fits at once (-1: one per core), in worker processes.
    n_jobs: Annotated[int, NOT_BOOL, Field(ge=-1)] = 1

    @field_validator("n_jobs")
    @classmethod
    def _some_jobs(cls, value: int) -> int:
        if value == 0:
            raise ValueError("give 1 or more fits at once, or -1 for one per core")
        return value


class Train(Strict):
    seed: Seed
    cv: CrossValidation = CrossValidation()


class Tune(Strict):
    """tune=optuna: search each learner's `search` space by cross-validation on the
    training rows (core/tuning.py); tune=none trains the config as it is."""

    method: Literal["none", "optuna"] = "none"
    trials: PosInt = 30  # per learner searched
    # Seconds per learner; a search stopped by time depends on the machine's speed.
    timeout: PosInt | None = None
    seed: Seed = 0
    # Stop a trial after a fold when its score so far is below the median of earlier ones.
    prune: bool = True


class Read(Strict):
    """The raw-row contract's choices (core/raw_rows.py): what to do with cells that
    would mislead a model if read silently."""

    infinity: Literal["error", "missing"] = "error"
    # A numeric column with a few text cells: refuse, or read those cells as missing.
    non_numeric: Literal["error", "missing"] = "error"
    # Share of a text column's values that must parse as numbers for it to be a numeric
    # column with bad cells rather than a text column.
    numeric_share: Annotated[float, NOT_BOOL, Field(gt=0.5, le=1)] = 0.9
    # Date columns (timestamps, ISO 8601 text): numeric features, or refused.
    dates: Literal["features", "error"] = "features"


class Config(Strict):
    paths: Paths
    data: Data
    read: Read
    validate_: Validate = Field(alias="validate")
    split: Split
    features: Features
    model: Model
    train: Train
    tune: Tune
    tracking: Tracking
    registry: Registry
    gate: Gate
    predict: Predict
    serve: Serve
    monitor: Monitor
    ct: ContinuousTraining
    engine: Engine


def _error_key(loc: tuple[Any, ...], raw: Any) -> str:
    # Pydantic puts the discriminator's value in the location of a tagged union
    # ("model.random_forest.n_estimators"); users wrote "model.n_estimators". A tag is a
    # part of the location that is not a key of the mapping at that point.
    data_tags = {"sklearn", "file", "synthetic", "demo"}
    tags = data_tags | {"linear", "random_forest", "hist_gradient_boosting", "auto"}
    parts, node = [], raw
    for part in loc:
        if isinstance(node, dict) and part not in node and part in tags:
            continue
        parts.append(str(part))
        node = node.get(part) if isinstance(node, dict) else None
    return ".".join(parts)


# Keys a release replaced: a config written for an older template says what to write now.
REPLACED = {
    "model.cv_folds": "train.cv.folds",
    "validate.min_class_share": (
        "validate.min_class_ratio, a share of an even class (0.2 is 10% of two classes)"
    ),
}


def format_validation_error(err: ValidationError, source: str, raw: Any) -> str:
    lines = [f"invalid config in {source}:"]
    for e in err.errors():
        key = _error_key(e["loc"], raw)
        if e["type"] == "extra_forbidden" and key in REPLACED:
            lines.append(f"  {key}: unknown key; now {REPLACED[key]}")
        elif e["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown key")
        elif e["type"] == "missing":
            lines.append(f"  {key}: required key is missing")
        else:
            lines.append(f"  {key}: {e['msg']} (got {e.get('input')!r})")
    return "\n".join(lines)


def parse_config(raw: dict[str, Any], source: str = PARAMS_FILE) -> Config:
    """Validate a composed config mapping; raise PipelineError naming each bad key."""
    unset = [key for key, value in flatten(raw).items() if value == "???"]
    if unset:
        keys = ", ".join(unset)
        raise PipelineError(f"invalid config in {source}: no value for {keys} (set KEY=VALUE)")
    try:
        cfg = Config.model_validate(raw)
    except ValidationError as err:
        raise PipelineError(format_validation_error(err, source, raw)) from None
    _check_outputs_inside(cfg.paths, source)
    return cfg


def _check_outputs_inside(paths: Paths, source: str) -> None:
    """Refuse outputs outside the project: DVC neither tracks nor restores them, and a
    run would overwrite whatever is there (`-S paths.model=/tmp/x.skops`).

    The project is the working folder, which stages run in: for a queued experiment,
    DVC's copy under .dvc/tmp/exps/, so `../x` leaves the copy even though it stays
    under DVC_ROOT.
    """
    if paths.allow_outside:
        return
    root = Path.cwd()
    outside = [
        f"paths.{key}={value} ({os.path.normpath(root / value)})"
        for key, value in paths.model_dump(by_alias=True).items()
        if isinstance(value, str) and _leaves(root, value)
    ]
    if outside:
        raise PipelineError(
            f"invalid config in {source}: {', '.join(outside)} "
            f"{'is' if len(outside) == 1 else 'are'} outside the project {root}: outputs "
            "stay inside, where DVC tracks them (or set paths.allow_outside=true)"
        )


def _leaves(root: Path, path: str) -> bool:
    # Inside as written or once links are resolved: a folder in the project may link to
    # other storage (data/ on a larger disk), and the project may be reached by a link.
    written = Path(os.path.normpath(root / path))  # root / an absolute path is that path
    resolved = (root / path).resolve()
    return not (written.is_relative_to(root) or resolved.is_relative_to(root.resolve()))


def read_params(path: str | Path = PARAMS_FILE) -> Any:
    """The YAML of params.yaml, parsed once per version of the file: a command reads it
    at start (its tracking server) and again for its config. Treat it as read-only."""
    stat = Path(path).stat()
    return _parsed(str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)
def _parsed(path: str, mtime_ns: int, size: int) -> Any:
    # libyaml's parser where PyYAML was built with it: the same values, several times faster.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=loader)


def load_config(path: str | Path = PARAMS_FILE) -> Config:
    path = Path(path)
    try:
        raw = read_params(path)
    except FileNotFoundError:
        raise PipelineError(f"{path}: not found (run `make params` to compose it)") from None
    except yaml.YAMLError as err:
        raise PipelineError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise PipelineError(f"{path}: expected a mapping of config groups")
    return parse_config(raw, str(path))


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'model': {'type': 'linear'}} -> {'model.type': 'linear'}, for MLflow params."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat
