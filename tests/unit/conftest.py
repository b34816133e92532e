"""Helpers for the unit tests (the `params` fixture is in tests/conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.template import REPO  # noqa: F401 (the unit tests' `from .conftest import REPO`)


def training_schema(*columns: dict[str, Any], task: str = "classification", **target: Any):
    """A TrainingSchema from short column specs (name and kind; dtype and nullable
    defaulted) and the target's fields (name y, int64 unless given)."""
    from mlops_template.core.schema import TrainingSchema

    full = [
        {"dtype": "float64" if c["kind"] == "numeric" else "object", "nullable": True, **c}
        for c in columns
    ]
    labels = {"name": "y", "dtype": "int64", **target}
    return TrainingSchema.of({"task": task, "target": labels, "columns": full, "n_rows": 100})


@pytest.fixture(scope="session")
def served_pyfunc(tmp_path_factory):
    """A model trained on awkward rows (tests/unit/test_reading_parity.py), saved and
    loaded as MLflow serves it; and the features it was trained on."""
    import mlflow.pyfunc
    import mlflow.sklearn
    from mlflow.models import infer_signature

    from mlops_template.config import Features
    from mlops_template.config.model import LinearModel
    from mlops_template.core.models import build_pipeline
    from mlops_template.core.schema import infer_schema
    from mlops_template.io.model_logging import _signature
    from tests.unit.test_reading_parity import raw_cells
    from tests.unit.test_reading_parity import typed_frame as typed_cells

    cells = raw_cells(seed=5, rows=200)
    rows = typed_cells(cells)
    features, labels = rows.drop(columns="label"), rows["label"]
    schema = infer_schema(features, labels, "classification")
    model = build_pipeline(
        LinearModel(type="linear"),
        Features(),
        task="classification",
        numeric=schema.names("numeric"),
        categorical=schema.names("categorical"),
        boolean=schema.booleans,
        dates=schema.dates,
        seed=0,
    ).fit(features, labels)
    example = features.head(5)
    signature = _signature(infer_signature(example, model.predict(example)), schema)
    path = tmp_path_factory.mktemp("model") / "model"
    mlflow.sklearn.save_model(
        model, path, signature=signature, serialization_format="pickle", pip_requirements=[]
    )
    return mlflow.pyfunc.load_model(str(path)), features
