"""The hint after a refusal on the baseline check: class_weight=balanced, where it helps."""

from __future__ import annotations

from mlops_template.config import Config
from mlops_template.config.model import LinearModel
from mlops_template.core.validation_report import ValidationReport
from mlops_template.release.refusal_hint import imbalance_hint

BASELINE = ["baseline:balanced_accuracy"]


def report(classes: dict[str, int] | None) -> ValidationReport:
    total = sum(classes.values()) if classes else 1
    return ValidationReport(
        target="churned",
        task="classification" if classes else "regression",
        task_reason="",
        n_rows=total,
        n_rows_without_target=0,
        features=[],
        categorical=[],
        missing={},
        warnings=[],
        classes=classes,
        minority_share=min(classes.values()) / total if classes else None,
    )


def test_an_imbalanced_table_under_model_auto_names_each_candidates_key(params):
    model = Config.model_validate(params).model
    hint = imbalance_hint(BASELINE, report({"no": 79, "yes": 21}), model)
    assert "smallest class is 21.0% of the labelled rows" in hint
    assert (
        "`dvc exp run -S model.candidates.hist_gradient_boosting.class_weight=balanced "
        "-S model.candidates.linear.class_weight=balanced`" in hint
    )


def test_no_hint_where_class_weights_would_not_be_the_answer(params):
    auto = Config.model_validate(params).model
    imbalanced = report({"no": 79, "yes": 21})
    assert imbalance_hint(BASELINE, report({"no": 60, "yes": 40}), auto) is None  # balanced
    assert imbalance_hint(["improvement:balanced_accuracy"], imbalanced, auto) is None
    assert imbalance_hint(BASELINE, report(None), auto) is None  # regression
    weighted = LinearModel(type="linear", class_weight="balanced")
    assert imbalance_hint(BASELINE, imbalanced, weighted) is None  # already weighted
    plain = LinearModel(type="linear")
    assert "`dvc exp run -S model.class_weight=balanced`" in imbalance_hint(
        BASELINE, imbalanced, plain
    )


def test_the_even_share_depends_on_the_number_of_classes(params):
    auto = Config.model_validate(params).model
    three = {"a": 45, "b": 30, "c": 25}  # 25% < 80% of a third
    assert imbalance_hint(BASELINE, report(three), auto) is not None
    assert imbalance_hint(BASELINE, report({"a": 36, "b": 36, "c": 28}), auto) is None
    assert imbalance_hint(BASELINE, report({"no": 70, "yes": 30}), auto) is not None
