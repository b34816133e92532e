"""evaluate: score the model on the test set; write metrics, plot data and figures."""

from __future__ import annotations

import sys

from mlops_template.config import Config
from mlops_template.core import evaluation as ev
from mlops_template.core.schema import TrainingSchema
from mlops_template.io.atomic import atomic_dir, write_json
from mlops_template.io.figures import classification_figures, regression_figures
from mlops_template.io.lineage import file_md5
from mlops_template.io.model_file import load_model
from mlops_template.io.parquet_chunks import read_frame
from mlops_template.io.tracking import Input, StageRecord

PLOT_FILES = ("roc.json", "precision_recall.json", "confusion.json", "predictions.json")


def run(cfg: Config) -> StageRecord:
    schema = TrainingSchema.read(cfg.paths.schema_)
    test = read_frame(cfg.paths.test)
    scored = ev.score(load_model(cfg.paths.model), test, schema)
    y, predicted = scored.y, scored.predicted
    if scored.proba is not None:
        plots = {
            "roc.json": ev.roc_points(y, scored.proba, scored.classes),
            "precision_recall.json": ev.precision_recall_points(y, scored.proba, scored.classes),
            "confusion.json": ev.confusion_rows(y, predicted),
        }
        draw = lambda folder: classification_figures(folder, plots, y, predicted, scored.classes)  # noqa: E731
    else:
        plots = {"predictions.json": ev.regression_rows(y, predicted)}
        draw = lambda folder: regression_figures(folder, plots["predictions.json"])  # noqa: E731

    with atomic_dir(cfg.paths.plots) as folder:
        # Every file dvc.yaml declares is written; the other task's plots stay empty,
        # so `dvc plots show` renders without "failed to load" errors.
        for name in PLOT_FILES:
            write_json(folder / name, plots.get(name, []))
    with atomic_dir(cfg.paths.figures) as folder:
        draw(folder)
    write_json(cfg.paths.metrics, scored.metrics)
    metric = getattr(cfg.gate, schema.task).metric
    print(
        f"evaluate: {metric} {scored.metrics[metric]:.4f} on {len(test)} held-out rows (the "
        f"gate's metric; all of them in {cfg.paths.metrics})",
        file=sys.stderr,
    )
    return StageRecord(
        inputs=[
            Input(cfg.paths.test, "evaluation", test, schema.target.name),
            Input(cfg.paths.model, "model"),
        ],
        metrics=scored.metrics,
        artifacts=[cfg.paths.metrics, cfg.paths.plots, cfg.paths.figures],
        tags={"model_md5": file_md5(cfg.paths.model), "task": schema.task},
    )
