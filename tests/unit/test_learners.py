"""LightGBM and XGBoost as model configs: text labels and text columns read as the other
learners read them, saved byte-stable with trusted types, and the same answer for a row
whether it comes alone or in a batch."""

from __future__ import annotations

import json

import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest

from mlops_template.config import Features
from mlops_template.core.estimators import check_estimators
from mlops_template.core.learner_adapters import SafeNames, learner_of
from mlops_template.core.models import build_pipeline
from mlops_template.errors import PipelineError
from mlops_template.io.model_file import (
    canonical_skops,
    content_md5,
    dump_model,
    load_model,
    trusted_types,
)
from tests.helpers.models import learner_config

LEARNERS = ["lightgbm", "xgboost"]


def rows(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    plan = rng.choice(["basic", "pro", "team", None], n)
    spend = rng.normal(50, 20, n)
    spend[rng.random(n) < 0.1] = np.nan
    score = np.nan_to_num(spend, nan=50) / 20 + (plan == "pro") * 2 + rng.normal(0, 0.5, n)
    return pd.DataFrame(
        {
            "spend, monthly ($)": spend,  # a name LightGBM would refuse as it is
            "plan": pd.Series(plan, dtype="str"),
            "churned": np.where(score > 3.5, "yes", "no"),
            "amount": score * 10,
        }
    )


def config(name: str):
    if name == "hist_gradient_boosting, native":  # scikit-learn's boosting, categoricals too
        return learner_config("hist_gradient_boosting").model_copy(update={"categorical": "native"})
    return learner_config(name)


def fitted(name: str, task: str, frame: pd.DataFrame):
    target = "churned" if task == "classification" else "amount"
    pipeline = build_pipeline(
        config(name),
        Features(),
        task=task,
        numeric=["spend, monthly ($)"],
        categorical=["plan"],
        seed=0,
    )
    return pipeline.fit(frame[["spend, monthly ($)", "plan"]], frame[target])


@pytest.mark.parametrize(
    "name", [*LEARNERS, "hist_gradient_boosting, native", "random_forest", "extra_trees", "linear"]
)
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_trains_saves_byte_stable_and_loads_as_trusted(name, task, tmp_path):
    frame = rows()
    model = fitted(name, task, frame)
    x = frame[["spend, monthly ($)", "plan"]]
    if task == "classification":
        assert model.classes_.tolist() == ["no", "yes"]  # the data's labels, XGBoost's too
        assert set(model.predict(x)) == {"no", "yes"}
        assert (model.predict(x) == frame["churned"]).mean() > 0.85
    first, second = tmp_path / "a.skops", tmp_path / "b.skops"
    dump_model(model, first)
    dump_model(fitted(name, task, frame), second)  # trained again from the same rows
    assert first.read_bytes() == second.read_bytes()
    # MLflow writes the model with skops again when train logs it; the loaders check the
    # store's file by its canonical bytes' md5 against dvc.lock's (io/model_folder.py).
    trusted = trusted_types(first.read_bytes())
    mlflow.sklearn.save_model(
        model, tmp_path / "logged", serialization_format="skops", skops_trusted_types=trusted
    )
    assert canonical_skops((tmp_path / "logged" / "model.skops").read_bytes()) == first.read_bytes()
    loaded = load_model(first)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


@pytest.mark.parametrize("name", LEARNERS)
def test_a_row_scores_alike_alone_or_in_a_batch_and_unseen_categories_alike(name):
    frame = rows()
    model = fitted(name, "classification", frame)
    x = frame[["spend, monthly ($)", "plan"]]
    batch = model.predict_proba(x.iloc[:40])
    alone = np.vstack([model.predict_proba(x.iloc[[i]]) for i in range(40)])
    np.testing.assert_array_equal(alone, batch)  # a row lacks the others' categories
    # A category training never saw is unknown to the learner (its missing branch), any one.
    unseen = x.iloc[[0, 1]].assign(plan=["enterprise", "gold"])
    other = x.iloc[[0, 1]].assign(plan=["gold", "enterprise"])
    np.testing.assert_array_equal(model.predict_proba(unseen), model.predict_proba(other))


def test_text_columns_reach_the_learner_as_categoricals_under_safe_names():
    frame = rows()
    model = fitted("lightgbm", "classification", frame)
    seen = model[:-1].transform(frame[["spend, monthly ($)", "plan"]])
    assert list(seen.columns) == ["spend_ monthly ($)", "plan"]
    assert seen["plan"].dtype == "category" and seen["spend_ monthly ($)"].dtype == "float64"
    names = SafeNames().fit(pd.DataFrame(columns=["a:b", "a_b", "c"]))
    assert names.names_ == ["a_b", "a_b_", "c"]


@pytest.mark.parametrize(
    "path", ["os.system", "pandas.DataFrame", "lightgbmx.LGBMClassifier", "sklearn"]
)
def test_a_model_names_scikit_learn_lightgbm_or_xgboost_only(params, path):
    from mlops_template.config import parse_config

    params["model"] = {"type": "sklearn", "classifier": path}
    with pytest.raises(PipelineError, match=r"model.classifier: String should match pattern"):
        parse_config(params)


def test_a_model_may_name_a_class_of_the_projects_own(params):
    """An extension trial: a team's estimator in its own package was refused by the
    pattern (docs/experiments.md, "A class of your own")."""
    from mlops_template.config import parse_config

    own = "mlops_template.core.team_models.LogLogistic"
    params["model"] = {"type": "sklearn", "classifier": own}
    assert parse_config(params).model.classifier == own


@pytest.mark.parametrize("name", LEARNERS)
def test_the_shipped_configs_and_their_search_spaces_check(name):
    check_estimators(learner_config(name))  # every end of every range is a value it takes


@pytest.mark.parametrize("name", LEARNERS)
def test_rounds_stop_on_held_out_training_rows(name):
    """Labels of pure noise: no round helps on rows the learner did not fit, so it stops
    long before n_estimators, at the round the held-out loss was best."""
    frame = rows(600).assign(churned=lambda f: np.random.default_rng(9).choice(["no", "yes"], 600))
    learner = learner_of(fitted(name, "classification", frame)[-1])
    best = learner.best_iteration_ if name == "lightgbm" else learner.best_iteration
    assert best < 100 < learner_config(name).params["n_estimators"]


def test_a_class_of_one_row_trains_every_round_without_holding_out():
    frame = rows(200)
    frame.loc[0, "churned"] = "maybe"  # nothing of it can be held out
    model = fitted("lightgbm", "classification", frame)
    assert model.classes_.tolist() == ["maybe", "no", "yes"]
    assert learner_of(model[-1]).n_estimators_ == learner_config("lightgbm").params["n_estimators"]


def test_early_stopping_is_for_lightgbm_and_xgboost(params):
    from mlops_template.config import parse_config

    params["model"] = {
        "type": "sklearn",
        "regressor": "sklearn.ensemble.ExtraTreesRegressor",
        "early_stopping": {"rounds": 5},
    }
    with pytest.raises(PipelineError, match=r"early_stopping is for LightGBM's and XGBoost's"):
        parse_config(params)


def mixed_rows(n: int = 300) -> pd.DataFrame:
    """Every kind of column a model reads: numbers (one integer, one float32, as Parquet
    keeps them), categories with gaps, a boolean, a date, free text."""
    rng = np.random.default_rng(1)
    spend = rng.normal(50, 20, n)
    words = np.array(["late fee", "upgrade plan", "cancel soon", "happy customer", "slow app"])
    return pd.DataFrame(
        {
            "spend": spend,
            "tickets": rng.integers(0, 9, n),
            "usage": rng.gamma(2.0, 3.0, n).astype("float32"),
            "plan": pd.Series(rng.choice(["basic", "pro", None], n), dtype="str"),
            "autopay": rng.choice([True, False], n),
            "signup": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 700, n), "D"),
            "note": [f"{w} {i}" for i, w in enumerate(rng.choice(words, n))],
            "churned": np.where(spend + rng.normal(0, 10, n) > 55, "yes", "no"),
            "amount": spend * 3,
        }
    )


@pytest.mark.parametrize("name", [*LEARNERS, "hist_gradient_boosting", "linear"])
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_a_logged_model_passes_the_loaders_checks(params, name, task, tmp_path):
    """What every loader checks a registered model's folder by (io/model_folder.py): its
    file against the recorded md5s, its schema and signature against the model. A train
    of every learner, on every kind of column, passes as MLflow logged it."""
    import yaml

    from mlops_template.config import Config
    from mlops_template.core.models import model_for_rows
    from mlops_template.core.schema import TrainingSchema
    from mlops_template.io.lineage import file_md5
    from mlops_template.io.model_folder import Recorded, check_model_folder
    from mlops_template.io.model_logging import input_example, model_signature
    from tests.helpers.template import REPO

    params["model"] = yaml.safe_load((REPO / "conf" / "model" / f"{name}.yaml").read_text())
    target, other = ("churned", "amount") if task == "classification" else ("amount", "churned")
    frame = mixed_rows().drop(columns=other)
    training = model_for_rows(Config.model_validate(params), frame, target, task)
    model = training.model.fit(training.features, training.y)
    schema = TrainingSchema.model_validate(training.schema)
    assert {c.kind for c in schema.columns} == {"numeric", "categorical", "date"}
    md5 = file_md5(dump_model(model, tmp_path / "model.skops"))
    folder = tmp_path / "logged"
    mlflow.sklearn.save_model(
        model,
        folder,
        serialization_format="skops",
        skops_trusted_types=trusted_types((tmp_path / "model.skops").read_bytes()),
        signature=model_signature(model, input_example(training.features), schema),
        metadata={"schema": schema.as_json(), "model_md5": md5},
    )
    content = content_md5((folder / "model.skops").read_bytes())
    for recorded in (Recorded(md5), Recorded("", content)):
        checked, loaded = check_model_folder(folder, name, recorded)
        assert checked == folder / "model.skops"
        x = training.features.head(20)
        np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    # Models logged before every number was declared double have float32 columns as float.
    meta = yaml.safe_load((folder / "MLmodel").read_text())
    inputs = json.loads(meta["signature"]["inputs"])
    for spec in inputs:
        spec["type"] = "float" if spec["name"] == "usage" else spec["type"]
    meta["signature"]["inputs"] = json.dumps(inputs)
    (folder / "MLmodel").write_text(yaml.safe_dump(meta))
    check_model_folder(folder, name, Recorded(md5))
