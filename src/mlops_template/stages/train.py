"""train: fit preprocessing and model as one pipeline; save it with its training schema."""

from __future__ import annotations

import platform
import time

from mlops_template.config import Config
from mlops_template.core.chunked_fit import (
    PREPROCESSED_ROWS,
    early_stopping_rows,
    fit_learner,
    fit_preprocessing,
    fits_in_chunks,
    label_array,
    preprocessed,
)
from mlops_template.core.cross_validation import threads_for
from mlops_template.core.learner_adapters import learner_of, library_refusal
from mlops_template.core.models import Training, model_for_rows
from mlops_template.core.tuning import Search, Trial, cv_scores, tuned_params_text
from mlops_template.core.validation_report import ValidationReport
from mlops_template.io import model_logging
from mlops_template.io.atomic import write_json, write_text
from mlops_template.io.dataset_schema import frame_schema
from mlops_template.io.lineage import file_md5
from mlops_template.io.model_file import dump_model
from mlops_template.io.parquet_chunks import (
    as_dtypes,
    parquet_chunks,
    read_frame,
    release_arrow_memory,
)
from mlops_template.io.tracking import ChildRun, Input, StageRecord


def run(cfg: Config) -> StageRecord:
    report = ValidationReport.read(cfg.paths.validation)
    target, task = report.target, report.task
    frame = read_frame(cfg.paths.train)  # the training rows only: never the test rows
    frame = frame.drop(columns=report.identifiers)  # they name rows: not features
    training = model_for_rows(cfg, frame, target, task, report.encodings)
    model, y, schema = training.model, training.y, training.schema
    chosen, selection, searches = training.config, training.selection, training.searches
    schema = schema.with_small_classes(report.small_classes)  # batches' labels read alike
    schema = schema.with_identifiers(report.identifiers)  # batches may still hold them
    for line in [*(s.summary() for s in searches), selection.summary() if selection else ""]:
        if line:
            print(line)
    start, folds = time.perf_counter(), training.folds
    fit = selection is None or selection.fitted is None  # else the choice's fit is the model
    chunked = fit and folds is not None and folds.sampled and fits_in_chunks(model)
    schema_of_rows = None
    with threads_for(len(y)):
        try:
            if chunked:
                x, sample = training.features, folds.sample
                sampled = fit_preprocessing(model, x[sample], y[sample])
                labels = label_array(y)
                held = early_stopping_rows(model[-1], training.ids, cfg.train.seed, labels)
                dtypes = {name: str(d) for name, d in x.dtypes.items()}
                schema_of_rows = frame_schema(frame)
                # The table goes before the fit; only the logged model's example stays.
                training = training._replace(features=x.head(5).copy())
                frame = x = None
                release_arrow_memory()
                rows = parquet_chunks([cfg.paths.train], PREPROCESSED_ROWS)
                chunks = (as_dtypes(chunk, dtypes) for chunk in rows)
                fit_x, held_x = preprocessed(model, chunks, sample, sampled, held)
                del sampled
                fit_learner(model[-1], fit_x, held_x, labels, held)
            elif fit:
                model.fit(training.features, y)
        except Exception as err:
            key = "model" if selection is None else f"model.candidates.{selection.chosen}"
            raise library_refusal(err, key) or err from None
    print(fit_cost(training, time.perf_counter() - start, chunked))
    dump_model(model, cfg.paths.model)
    write_json(cfg.paths.schema_, schema.as_json())
    write_text(cfg.paths.tuned, tuned_params_text(searches, cfg.tune.method))
    stopped = any(search.stopped_by_time for search in searches)
    cross_validated = cv_scores(getattr(cfg.gate, task).metric, cv_score(training), stopped)
    write_json(cfg.paths.cv, cross_validated)
    model_md5 = file_md5(cfg.paths.model)

    def log_model() -> None:
        model_logging.log_model(model, training.features, schema, cfg.paths.model, model_md5)

    return StageRecord(
        inputs=[
            # fitted in chunks: its schema without the table, which was let go
            Input(cfg.paths.train, "training", frame, target, schema_of_rows),
            Input(cfg.paths.validation, "validation_report"),
        ],
        artifacts=[cfg.paths.schema_],
        metrics={
            **(selection.metrics() if selection else {}),
            **cross_validated,
        },
        tags={
            "task": task,
            "model_md5": model_md5,
            # The estimator's class for a `type: sklearn` model (ExtraTreesClassifier).
            "model_type": type(learner_of(model.named_steps["model"])).__name__
            if chosen.type == "sklearn"
            else chosen.type,
            # What it was trained with (the registry's lineage.libraries, the card).
            "libraries": " ".join(
                [f"python=={platform.python_version()}", *model_logging.requirement_pins()]
            ),
            **({"model_selection": selection.summary()} if selection else {}),
            **({"tuning": " | ".join(s.summary() for s in searches)} if searches else {}),
        },
        params={f"tuned.{k}": v for s in searches for k, v in s.overrides().items()},
        children=[trial_run(s, trial) for s in searches for trial in s.trials],
        log_model=log_model,
    )


def cv_score(training: Training) -> float | None:
    """The trained model's cross-validated score: model=auto's for the chosen candidate,
    or the search's best for one model; None when it was not cross-validated."""
    if training.selection is not None:
        return training.selection.scores[training.selection.chosen]
    return training.searches[0].best_score if training.searches else None


def trial_run(search: Search, trial: Trial) -> ChildRun:
    """One trial as a run nested under the train run: its settings and scores."""
    metrics = {f"fold_{search.metric}": list(trial.fold_scores)}
    if trial.score is not None:
        metrics[f"cv_{search.metric}"] = [trial.score]
    return ChildRun(
        name=f"trial {trial.number} {search.key}",
        params={f"{search.settings_key}.{k}": v for k, v in trial.settings.items()},
        metrics=metrics,
        tags={
            "tune.learner": search.key,
            "tune.state": trial.state,
            **({"tune.own_settings": "true"} if trial.number == 0 else {}),
        },
    )


def fit_cost(training: Training, seconds: float, chunked: bool = False) -> str:
    """What training cost: the searches' fits, the choice's, then the final one."""
    selection, parts = training.selection, []
    for search in training.searches:
        parts.append(f"{search.cost.describe()} to search {search.key}")
    if selection is not None:
        parts.append(f"{selection.cost.describe()} to choose")
    if selection is not None and selection.fitted is not None:
        parts.append("no final fit: the chosen model is the one fitted beside the hold-out split")
    else:
        how = ""
        if chunked:
            sample = int(training.folds.sample.sum())
            how = f" (preprocessing fitted on a sample of {sample}, every row read in chunks)"
        parts.append(f"the final fit on {len(training.y)} rows{how} in {seconds:.1f} s")
    return "train: " + ", then ".join(parts)
