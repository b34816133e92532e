"""model=auto: the learner is chosen by cross-validation on the training rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_template.config import parse_config
from mlops_template.core.cross_validation import folds_for
from mlops_template.core.models import model_for_rows
from mlops_template.core.row_ids import row_ids
from mlops_template.errors import PipelineError
from mlops_template.stages.train import fit_cost


def linear_rows(n: int = 150) -> pd.DataFrame:
    """Few rows, an additive signal: a linear model's ground."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 6))
    y = x @ np.array([3.0, -2.0, 1.5, 1.0, 0.5, 0.0]) + rng.normal(scale=1.0, size=n)
    return pd.DataFrame(x, columns=[f"x{i}" for i in range(6)]).assign(y=y)


def interaction_rows(n: int = 800) -> pd.DataFrame:
    """The label is the sign of a product: no linear model can separate it."""
    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 1, size=(n, 3))
    return pd.DataFrame(x, columns=["a", "b", "c"]).assign(y=(x[:, 0] * x[:, 1] > 0).astype(int))


@pytest.mark.parametrize(
    ("rows", "task", "expected"),
    [
        (linear_rows(), "regression", "linear"),
        (interaction_rows(), "classification", "hist_gradient_boosting"),
    ],
)
def test_auto_chooses_the_learner_the_data_needs(params, rows, task, expected):
    cfg = parse_config(params)
    assert cfg.model.type == "auto"  # the template's default
    training = model_for_rows(cfg, rows, "y", task)
    selection = training.selection
    assert selection is not None and selection.chosen == expected
    assert selection.rows == len(rows) and selection.folds == cfg.train.cv.folds
    assert set(selection.scores) == set(cfg.model.candidates)
    assert type(training.model.named_steps["model"]).__name__.startswith(
        "Ridge" if expected == "linear" else "HistGradientBoosting"
    )
    assert selection.versus.verdict == "better"  # the data can tell these apart
    assert "within noise" not in selection.summary()
    # The same rows and config choose the same way, with the same scores.
    assert model_for_rows(cfg, rows, "y", task).selection == selection


def test_a_choice_the_data_cannot_call_says_so(params):
    """Pure noise: whichever candidate scores higher, the lead is not real."""
    rng = np.random.default_rng(3)
    rows = pd.DataFrame(rng.normal(size=(120, 3)), columns=["a", "b", "c"])
    rows["y"] = rng.integers(0, 2, 120)
    selection = model_for_rows(parse_config(params), rows, "y", "classification").selection
    assert selection.versus.verdict == "within noise"
    assert selection.summary().endswith("within noise, so another choice would do as well")


def test_a_choice_made_on_a_sample_is_refitted_on_every_row(params):
    rows = interaction_rows(3000)
    params["train"]["cv"].update(max_rows=1000, sample_rows=2000)
    cfg = parse_config(params)
    training = model_for_rows(cfg, rows, "y", "classification")
    selection = training.selection
    assert selection.chosen == "hist_gradient_boosting" and selection.fitted is None
    assert "of a sample of" in selection.scheme and selection.rows == 3000
    assert len(training.features) == len(training.y) == 3000  # train fits these: every row
    cost = fit_cost(training, 0.5)
    assert "to choose" in cost and "the final fit on 3000 rows" in cost


def test_a_single_model_config_is_not_cross_validated(params):
    params["model"] = {"type": "linear"}
    training = model_for_rows(parse_config(params), linear_rows(), "y", "regression")
    assert training.selection is None


def test_a_candidate_that_cannot_train_on_the_target_is_named(params):
    params["model"]["candidates"]["hist_gradient_boosting"]["loss"] = "gamma"
    rows = linear_rows()  # the target has negative values
    with pytest.raises(PipelineError, match=r"model\.candidates\.hist_gradient_boosting\.loss"):
        model_for_rows(parse_config(params), rows, "y", "regression")


def test_a_candidate_a_fold_is_too_small_for_is_skipped_and_said(params):
    """Two rows of a class: boosting's early stopping needs two in every fold's training
    part, so it cannot be cross-validated; linear can, and is chosen, with the reason."""
    rng = np.random.default_rng(4)
    rows = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
    rows["y"] = np.where(rows["a"] > 0, "up", "down")
    rows.loc[[8, 50], "y"] = "rare"
    cfg = parse_config(params)
    folds = folds_for(row_ids(rows, ["a", "b", "c"]), cfg.train.cv, cfg.train.seed).of_row
    assert folds[8] != folds[50]  # so two folds train on a single rare row
    selection = model_for_rows(cfg, rows, "y", "classification").selection
    assert selection.chosen == "linear" and set(selection.scores) == {"linear"}
    assert list(selection.skipped) == ["hist_gradient_boosting"]
    assert "skipped hist_gradient_boosting, a fold is too small for it: " in selection.summary()
    assert "model.candidates.hist_gradient_boosting.early_stopping" in selection.summary()
    # With no candidate left, the error says what to change.
    params["model"]["candidates"] = {"hgb": params["model"]["candidates"]["hist_gradient_boosting"]}
    with pytest.raises(PipelineError, match=r"model=auto: no candidate .* train\.cv\.folds lower"):
        model_for_rows(parse_config(params), rows, "y", "classification")


def test_past_max_rows_one_hold_out_split_chooses(params):
    params["train"]["cv"]["max_rows"] = 1000
    rows = interaction_rows(1200)
    training = model_for_rows(parse_config(params), rows, "y", "classification")
    selection = training.selection
    assert selection.folds == 1 and selection.chosen == "hist_gradient_boosting"
    # The chosen candidate's fit beside the split is the model: train does not refit it.
    assert training.model is selection.fitted
    assert (training.model.predict(rows.drop(columns="y")) == rows["y"]).mean() > 0.9
    assert fit_cost(training, 0.0).endswith(
        "no final fit: the chosen model is the one fitted beside the hold-out split"
    )
    assert selection.scheme.startswith("a hold-out split of ")
    assert selection.scheme.endswith(" of 1200 training rows")
    assert selection.cost.fits == 2  # one per candidate


def test_a_class_the_hold_out_took_whole_is_refitted(params):
    """All rows of a rare class hashed into the hold-out: the candidate's fit never saw
    it, so it is not the model; the chosen one is refitted on every training row."""
    params["train"]["cv"]["max_rows"] = 1000
    rows = interaction_rows(1200).astype({"y": "str"})
    cfg = parse_config(params)
    held = folds_for(row_ids(rows, ["a", "b", "c"]), cfg.train.cv, cfg.train.seed).scored
    rows.loc[np.flatnonzero(held)[:3], "y"] = "rare"
    training = model_for_rows(cfg, rows, "y", "classification")
    assert training.selection.folds == 1 and training.selection.fitted is None
    model = training.model.fit(training.features, training.y)
    assert "rare" in model.classes_.tolist()
