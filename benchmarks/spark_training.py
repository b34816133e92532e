"""Training on Spark, the design in docs/spark.md tried on local[*]: does it hold,
and what does it cost?

The template's preprocessing (model=xgboost's: the raw-row contract, imputation, native
categoricals) is fitted on a sample of the training rows on the driver and applied to
every row in Spark's workers (mapInPandas); XGBoost's own Spark estimator
(xgboost.spark.SparkXGBClassifier) trains on the result; its booster is loaded into an
XGBClassifier that takes the place of the learner in the template's sklearn Pipeline,
the model every serving path (REST, pandas batch, Spark batch) scores. Printed:

- parity: the Pipeline's probabilities on the test rows against the Spark model's own
  (the largest difference; 0 means the served model is the trained one, bit for bit),
- cost: the Spark fit (preprocessing included) against one in-process XGBClassifier fit
  on the same rows and settings, and each one's test AUC,
- reproducibility: whether a second Spark fit on the same rows gives the same booster,
- memory: the peak of this (driver) process: it makes the rows and fits in process too;
  Spark's fit itself needs only the preprocessing's sample on the driver.

    python benchmarks/spark_training.py --rows 1000000
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

PARAMS = {"n_estimators": 100, "learning_rate": 0.1, "max_depth": 6, "tree_method": "hist"}
SAMPLE_ROWS = 100_000  # the rows the preprocessing is fitted on, on the driver


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2, help="XGBoost workers (cores)")
    args = parser.parse_args()

    import logging
    import os

    from sklearn.metrics import roc_auc_score

    from mlops_template.config.base import Engine
    from mlops_template.io.spark_session import output_to
    from mlops_template.io.spark_tables import data_session, stage_log

    logging.getLogger("XGBoost-PySpark").setLevel(logging.WARNING)  # its per-round lines
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)  # Spark's log goes to reports/spark/ here
        train, test = rows(args.rows)
        sample = train.sample(min(SAMPLE_ROWS, len(train)), random_state=0)
        front = preprocessing(sample.drop(columns="target"), sample["target"])
        train.to_parquet("train.parquet", index=False)
        engine = Engine(name="spark", spark={"master": f"local[{args.workers}]", "conf": {}})
        spark = data_session(engine, "train")
        try:
            start = time.perf_counter()
            with output_to(stage_log("train")):  # XGBoost's tracker prints every round
                booster, names = fit_on_spark(spark, front, "train.parquet", args.workers)
                spark_seconds = time.perf_counter() - start
                again, _ = fit_on_spark(spark, front, "train.parquet", args.workers)
            same = again.get_booster().save_raw("json") == booster.get_booster().save_raw("json")
            served = served_model(front, booster)
            spark_proba = spark_probabilities(spark, front, booster, test)
        finally:
            spark.stop()
        served_proba = served.predict_proba(test.drop(columns="target"))[:, 1]
        start = time.perf_counter()
        local = local_fit(front, train)
        local_seconds = time.perf_counter() - start
        local_proba = local.predict_proba(front.transform(test.drop(columns="target")))[:, 1]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.rows:,} rows ({len(train):,} train, {len(test):,} test), {len(names)} features")
    print(
        f"parity: served Pipeline vs the Spark model, largest difference "
        f"{np.max(np.abs(served_proba - spark_proba)):.3g}"
    )
    print(f"reproducible: a second Spark fit gave {'the same' if same else 'a different'} booster")
    print(f"{'fit':28} {'seconds':>8} {'test AUC':>9}")
    y = test["target"].to_numpy()
    print(
        f"{'Spark local[' + str(args.workers) + '], xgboost.spark':28} {spark_seconds:8.1f} "
        f"{roc_auc_score(y, served_proba):9.4f}"
    )
    print(
        f"{'in process, XGBClassifier':28} {local_seconds:8.1f} "
        f"{roc_auc_score(y, local_proba):9.4f}"
    )
    print(f"driver peak memory {peak:.0f} MiB (Spark's JVM and workers are other processes)")
    return 0


def rows(n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """data=synthetic's rows (24 numbers, 6 categoricals, missing cells), split 80/20."""
    from mlops_template.config.data import SyntheticData
    from mlops_template.core.synthetic import generate

    settings = SyntheticData(
        source="synthetic",
        task="classification",
        n_rows=n,
        seed=7,
        n_numeric=24,
        n_categorical=6,
        n_classes=2,
        missing_rate=0.05,
        noise=0.1,
        target="target",
        watch="uv.lock",
    )
    frame = generate(settings)
    # XGBoost's labels are 0..n-1 (the template maps them so: core/learner_adapters.py).
    frame["target"] = pd.factorize(frame["target"], sort=True)[0]
    in_test = np.random.default_rng(0).random(len(frame)) < 0.2
    return frame[~in_test].reset_index(drop=True), frame[in_test].reset_index(drop=True)


def preprocessing(features: pd.DataFrame, y: pd.Series):
    """model=xgboost's front of the Pipeline (read, preprocess), fitted on a sample."""
    from sklearn.pipeline import Pipeline

    from mlops_template.config import Features
    from mlops_template.config.model import SklearnModel
    from mlops_template.core.models import build_pipeline

    numeric = [c for c in features if pd.api.types.is_numeric_dtype(features[c])]
    categorical = [c for c in features if c not in numeric]
    model = SklearnModel(
        type="sklearn",
        classifier="xgboost.XGBClassifier",
        regressor="xgboost.XGBRegressor",
        categorical="native",
        params=PARAMS,
    )
    pipeline = build_pipeline(
        model,
        Features(),
        task="classification",
        numeric=numeric,
        categorical=categorical,
        seed=0,
    )
    front = Pipeline(pipeline.steps[:-1])
    return front.fit(features, y)


def as_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """Native categoricals as their codes (unseen: missing), the form Spark carries."""
    return pd.DataFrame(
        {
            c: frame[c].cat.codes.replace(-1, np.nan).astype("float64")
            if isinstance(frame[c].dtype, pd.CategoricalDtype)
            else frame[c].astype("float64")
            for c in frame
        }
    )


def fit_on_spark(spark, front, path: str, workers: int):
    """The preprocessing applied in Spark's workers, then XGBoost's Spark estimator."""
    from pyspark.sql.types import DoubleType, StructField, StructType
    from xgboost.spark import SparkXGBClassifier

    sample = front.transform(pd.read_parquet(path).head(5).drop(columns="target"))
    names = list(sample.columns)
    types = ["c" if isinstance(sample[c].dtype, pd.CategoricalDtype) else "q" for c in names]
    schema = StructType(
        [StructField(n, DoubleType()) for n in names] + [StructField("label", DoubleType())]
    )

    def prepared(chunks):
        for chunk in chunks:
            out = as_numbers(front.transform(chunk.drop(columns="target")))
            yield out.assign(label=chunk["target"].astype("float64").to_numpy())

    table = spark.read.parquet(str(Path(path).resolve())).mapInPandas(prepared, schema)
    estimator = SparkXGBClassifier(
        features_col=names,
        label_col="label",
        num_workers=workers,
        feature_types=types,
        random_state=0,
        **PARAMS,
    )
    return estimator.fit(table), names


def served_model(front, spark_model):
    """The Spark-trained booster as the Pipeline's learner: what every path serves."""
    from sklearn.pipeline import Pipeline
    from xgboost import XGBClassifier

    learner = XGBClassifier()
    learner.load_model(bytearray(spark_model.get_booster().save_raw("json")))
    return Pipeline([*front.steps, ("model", learner)])


def spark_probabilities(spark, front, spark_model, test: pd.DataFrame) -> np.ndarray:
    """The Spark model's own probabilities for the test rows, in their order."""
    features = as_numbers(front.transform(test.drop(columns="target")))
    features["row"] = np.arange(len(features))
    scored = spark_model.transform(spark.createDataFrame(features)).select("row", "probability")
    out = scored.toPandas().sort_values("row")
    return np.array([p[1] for p in out["probability"]])


def local_fit(front, train: pd.DataFrame):
    from xgboost import XGBClassifier

    learner = XGBClassifier(enable_categorical=True, random_state=0, n_jobs=2, **PARAMS)
    return learner.fit(front.transform(train.drop(columns="target")), train["target"])


if __name__ == "__main__":
    sys.exit(main())
