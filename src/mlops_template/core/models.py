"""The model: preprocessing and estimator in one scikit-learn pipeline, and the model
train fits on some rows (searched, chosen).

Serving gets raw columns, so imputation, scaling and encoding live inside the model. The
estimator itself comes from core/estimators.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from mlops_template.config import Config, Features
from mlops_template.config.model import AutoModel, Estimator
from mlops_template.core.columns import MANY_LEVELS, TEXT, text_encodings
from mlops_template.core.cross_validation import Folds, PreparedFolds, folds_for, threads_for
from mlops_template.core.estimators import build_estimator, check_model_fits_target
from mlops_template.core.learner_adapters import UNKNOWN, AsCategories, NumericImputer, SafeNames
from mlops_template.core.model_selection import Selection, select
from mlops_template.core.raw_rows import RawRows, date_features
from mlops_template.core.text_encoders import TextWords, many_levels_encoder
from mlops_template.core.tuning import Search, tuned

MISSING_CATEGORY = "__missing__"


def build_preprocessor(
    features: Features,
    numeric: list[str],
    categorical: list[str],
    *,
    native: bool = False,
    levels: int | None = None,
    encodings: Mapping[str, str] | None = None,
    task: str = "classification",
    seed: int = 0,
) -> ColumnTransformer | Pipeline:
    """Imputed (and scaled) numbers; text one-hot encoded, or with `native`, as
    categoricals for a learner that splits them itself (a frame, not an array).
    `encodings` names the text columns with more levels than one-hot keeps
    (core/columns.py): free text by its words, many levels by their effect on the target
    (core/text_encoders.py). `levels`: the most values a one-hot column has in the
    training rows, if known. Only a column with more than `features.max_categories`
    needs the cap, and scikit-learn counts every value in Python to apply one (2 s of 1e6
    rows); below it the encoding is the same without."""
    encodings = encodings or {}
    cap = features.max_categories
    if cap is not None and levels is not None and levels <= cap:
        cap = None
    numeric_steps: list[tuple[str, Any]] = [
        ("impute", NumericImputer(strategy=features.numeric_imputer))
    ]
    if features.scale_numeric:
        numeric_steps.append(("scale", StandardScaler(copy=False)))  # the imputer's own copy
    encode: list[tuple[str, Any]] = [
        (
            "encode",
            OneHotEncoder(
                handle_unknown="infrequent_if_exist",
                max_categories=cap,
                sparse_output=False,
            ),
        )
    ]
    if native:
        codes = OrdinalEncoder(
            handle_unknown="use_encoded_value",
            unknown_value=UNKNOWN,
            max_categories=cap,
        )
        encode = [("encode", codes), ("as_categories", AsCategories())]
    impute = ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY))
    text = [c for c in categorical if encodings.get(c) == TEXT]
    many = [c for c in categorical if encodings.get(c) == MANY_LEVELS]
    parts = [
        ("numeric", Pipeline(numeric_steps), numeric),
        (
            "categorical",
            Pipeline([impute, *encode]),
            [c for c in categorical if c not in encodings],
        ),
    ]
    if many:
        parts.append(
            ("many_levels", Pipeline([impute, ("encode", many_levels_encoder(task, seed))]), many)
        )
    if text:
        parts.append(("text", TextWords(features.text_terms), text))
    transformer = ColumnTransformer(parts, verbose_feature_names_out=False)
    if not native:
        return transformer
    return Pipeline(
        [("columns", transformer.set_output(transform="pandas")), ("names", SafeNames())]
    )


def build_pipeline(
    model: Estimator,
    features: Features,
    *,
    task: str,
    numeric: list[str],
    categorical: list[str],
    seed: int,
    boolean: tuple[str, ...] = (),
    infinity: str = "error",
    dates: tuple[str, ...] = (),
    levels: int | None = None,
    encodings: Mapping[str, str] | None = None,
) -> Pipeline:
    """Read raw rows by the contract (core/raw_rows.py), preprocess, then the estimator:
    the model takes raw columns on every path, REST and Spark included. A date column
    reaches the preprocessing as its numeric parts."""
    derived = [f for name in dates for f in date_features(name)]
    return Pipeline(
        [
            ("read", RawRows(tuple(numeric), tuple(categorical), boolean, infinity, dates)),
            (
                "preprocess",
                build_preprocessor(
                    features,
                    [*numeric, *derived],
                    categorical,
                    native=getattr(model, "categorical", "onehot") == "native",
                    levels=levels,
                    encodings=encodings,
                    task=task,
                    seed=seed,
                ),
            ),
            ("model", build_estimator(model, task, seed)),
        ]
    )


class Training(NamedTuple):
    """The configured model for some training rows, the features and labels to fit it on,
    the schema they give, the model config it was built from (with the settings a search
    chose), how model=auto chose it, and the searches. The model is unfitted, except where
    model=auto chose on a hold-out split: then it is the chosen candidate as fitted there
    (`selection.fitted`)."""

    model: Pipeline
    features: pd.DataFrame
    y: pd.Series
    schema: dict[str, Any]
    config: Estimator
    selection: Selection | None
    searches: tuple[Search, ...] = ()
    folds: Folds | None = None  # the rows the choice or search was scored on
    ids: np.ndarray | None = None  # each row's identity hash (core/row_ids.py)


def model_for_rows(
    cfg: Config,
    frame: pd.DataFrame,
    target: str,
    task: str,
    encodings: Mapping[str, str] | None = None,
) -> Training:
    """The model train fits on these rows. The split key identifies rows; it is never a
    feature. `encodings`: the text columns with more levels than one-hot keeps, as
    validate saw them (else as these rows show them; core/columns.py). With
    tune=optuna, each learner's settings searched first; with model=auto, the candidate
    that cross-validates best on these rows."""
    from mlops_template.core.row_ids import row_ids
    from mlops_template.core.schema import infer_schema
    from mlops_template.core.split import identity_columns

    features = frame.drop(columns=[target, *([cfg.split.key] if cfg.split.key else [])])
    y = frame[target]
    if task == "classification" and isinstance(y.dtype, pd.api.extensions.ExtensionDtype):
        # scikit-learn reads nullable integers (prepare's, where targets had gaps) as floats:
        # the classes would be 1.0 and 2.0. Training rows all have a label.
        y = y.astype(y.dtype.numpy_dtype) if pd.api.types.is_integer_dtype(y) else y
    if encodings is None:
        encodings = text_encodings(features, list(features.columns), cfg.features.max_categories)
    schema = infer_schema(features, y, task, encodings)
    numeric, categorical = schema.names("numeric"), schema.names("categorical")
    # The most values of a one-hot column, a missing one counting as one (a category).
    levels = max(
        (len(c.categories or []) + c.nullable for c in schema.columns if not c.encoding),
        default=0,
    )

    def pipeline_for(key: str, model: Estimator, target_values: pd.Series) -> Pipeline:
        check_model_fits_target(model, task, target_values, key)
        return build_pipeline(
            model,
            cfg.features,
            task=task,
            numeric=numeric,
            categorical=categorical,
            seed=cfg.train.seed,
            boolean=schema.booleans,
            infinity=cfg.read.infinity,
            dates=schema.dates,
            levels=levels,
            encodings=encodings,
        )

    ids = row_ids(frame, identity_columns(frame, target, cfg.split.key))
    # The folds, and each preprocessing's rows on them, made once for search and choice.
    prepared = PreparedFolds(features, y, folds_for(ids, cfg.train.cv, cfg.train.seed))
    with threads_for(len(y)):
        if isinstance(cfg.model, AutoModel):
            candidates = {f"model.candidates.{n}": c for n, c in cfg.model.candidates.items()}
        else:
            candidates = {"model": cfg.model}
        searches = ()
        if cfg.tune.method == "optuna":
            candidates, searches = tuned(cfg, candidates, pipeline_for, prepared, task=task)
        if not isinstance(cfg.model, AutoModel):
            model = pipeline_for("model", candidates["model"], y)
            chosen = candidates["model"]
            return Training(model, features, y, schema, chosen, None, searches, prepared.folds, ids)
        auto = cfg.model.model_copy(
            update={"candidates": {k.rpartition(".")[2]: c for k, c in candidates.items()}}
        )
        selection = select(
            auto,
            lambda name, model, values: pipeline_for(f"model.candidates.{name}", model, values),
            prepared,
            task=task,
            metric=getattr(cfg.gate, task).metric,
            cv=cfg.train.cv,
            noise=cfg.gate.bootstrap,
        )
    chosen = auto.candidates[selection.chosen]
    model = selection.fitted or pipeline_for(f"model.candidates.{selection.chosen}", chosen, y)
    return Training(model, features, y, schema, chosen, selection, searches, prepared.folds, ids)
