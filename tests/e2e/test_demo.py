"""The template's default, the demo customers, end to end as a new user meets it: its ID
is the split key and never a feature, its date is read as one, the model beats the
trivial baseline through the gate, and batch predictions carry each customer's ID."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from mlops_template.io import predictions_table
from tests.helpers.template import DEMO, Template

pytestmark = pytest.mark.slow


def test_the_demo_trains_promotes_and_scores_with_its_ids(tmp_path):
    copy = Template.fresh(tmp_path / "demo", DEMO)
    copy.make("run")
    metrics = json.loads(copy.path("metrics.json").read_text())
    assert metrics["balanced_accuracy"] > 0.65  # the trivial baseline's is 0.5
    schema = json.loads(copy.path("models/schema.json").read_text())
    kinds = {c["name"]: c["kind"] for c in schema["columns"]}
    assert "customer_id" not in kinds and kinds["signup_date"] == "date"
    assert schema["target"]["classes"] == ["no", "yes"]

    assert "promoted: mlops-template v1 is champion" in copy.make("promote").stderr
    copy.mlops("simulate", "calm.parquet", "--rows", "300", "--labels")
    copy.make("predict", "BATCH=calm.parquet")
    scored = predictions_table.read(str(copy.path("data/predictions")))
    assert len(scored) == 300 and scored["customer_id"].str.startswith("calm-").all()
    said = copy.make("monitor", "BATCH=calm.parquet").stderr
    assert "calm.parquet against mlops-template v1's training data: no drift" in said
    copy.commit("the demo, promoted")

    # A drifted batch of new customers: ct adds its rows with their IDs, so the split
    # places them, and the retrained model is promoted.
    copy.mlops(
        "simulate",
        "drifted.csv",
        "--rows",
        "3000",
        "--drift",
        "2",
        "--drifted-share",
        "1",
        "--labels",
    )
    # Without its IDs, the batch's labelled rows could not be added: refused before the
    # champion scores and logs them (a corrected file would be logged again).
    pd.read_csv(copy.path("drifted.csv")).drop(columns="customer_id").to_csv(
        copy.path("keyless.csv"), index=False
    )
    refused = copy.main("ct", "keyless.csv", check=False)
    assert refused.returncode == 2 and "no column 'customer_id' (split.key)" in refused.stderr
    assert len(predictions_table.read(str(copy.path("data/predictions")))) == 300
    copy.path("keyless.csv").unlink()
    said = copy.mlops("ct", "drifted.csv").stderr
    assert "out of range" in said and "ct: promoted v2" in said
    added = copy.path("data/incoming/customers").glob("*.parquet")
    (rows,) = [pd.read_parquet(path) for path in added]
    assert len(rows) == 3000 and rows["customer_id"].str.startswith("drifted-").all()
