"""Logging a trained model to MLflow: what every serving path and the registry read back.

The model ships the modules of ours it holds (core/raw_rows.py, its first step, and the
learner adapters and text encoders) so that it also loads where this project is not
installed (`mlflow models serve` in a fresh environment, a Docker image).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from mlops_template.core.schema import TrainingSchema
from mlops_template.io.model_file import MODEL_CLASSES, trusted_types

# The packages a served model needs; listed, not inferred, as inference costs seconds.
MODEL_REQUIREMENTS = ("scikit-learn", "skops", "pandas", "numpy", "scipy", "mlflow")


def requirement_pins() -> list[str]:
    """MODEL_REQUIREMENTS as installed here ("scikit-learn==1.9.1", ...): the model's
    requirements.txt, and its train run's `libraries` tag (the registry and card show it)."""
    from importlib.metadata import version

    return [f"{p}=={version(p)}" for p in MODEL_REQUIREMENTS]


def log_model(
    model: Any, features: pd.DataFrame, schema: TrainingSchema, model_path: str, model_md5: str
) -> None:
    """The fitted pipeline as an MLflow model in the active run: the skops file's types
    listed as trusted, a signature from the training schema, an input example, pinned
    requirements, and the schema and md5 in its metadata (read back by model_versions)."""
    from mlflow.models import Model

    # MLflow says, at INFO, that it found uv.lock: a line in every `dvc repro` for nothing
    # (the model's requirements are listed below, not inferred).
    logging.getLogger("mlflow.utils.uv_utils").setLevel(logging.WARNING)
    example = input_example(features)
    with tempfile.TemporaryDirectory() as code:
        Model.log(
            artifact_path=None,  # deprecated; `name` names it
            name="model",
            flavor=_SklearnWithOurFile(Path(model_path)),
            flavor_name="mlflow.sklearn",
            sk_model=model,
            code_paths=[str(_contract_package(Path(code)))],
            serialization_format="skops",
            skops_trusted_types=trusted_types(Path(model_path).read_bytes(), fitted_here=True),
            signature=model_signature(model, example, schema),
            input_example=example,
            pip_requirements=requirement_pins(),
            metadata={"schema": schema.as_json(), "model_md5": model_md5},
        )


class _SklearnWithOurFile:
    """mlflow.sklearn as the flavor `Model.log` saves with (what mlflow.sklearn.log_model
    does), its model.skops then replaced by the pipeline's own file: skops' dump, as
    MLflow calls it, stores its members uncompressed (a 306 MB forest took 1.77 GB in the
    store; its dump is still written, in a temporary folder). The file holds the same
    model in canonical form, deflated; the folder check compares contents (model_folder),
    and MLflow loads it to check the input example."""

    __name__ = "mlflow.sklearn"

    def __init__(self, model_file: Path) -> None:
        self.model_file = model_file

    def save_model(self, path: str, mlflow_model: Any, **kwargs: Any) -> None:
        import mlflow.sklearn
        from mlflow.utils.file_utils import get_total_file_size

        mlflow.sklearn.save_model(path=path, mlflow_model=mlflow_model, **kwargs)
        stored = mlflow_model.flavors["sklearn"]["pickled_model"]  # model.skops
        shutil.copyfile(self.model_file, Path(path) / stored)
        # The size MLflow recorded was its own dump's (as save_model computes it).
        mlflow_model.model_size_bytes = get_total_file_size(path)
        mlflow_model.save(str(Path(path) / "MLmodel"))


# What the modules of the classes a model holds import of ours (learner_adapters: errors).
MODEL_IMPORTS = ("__init__.py", "blas_kernel.py", "errors.py", "core/__init__.py")


def _contract_package(folder: Path) -> Path:
    """The modules of the classes of ours a model holds (io/model_file.MODEL_CLASSES,
    the ones its loading trusts) and what they import, as a package MLflow ships in the
    model's code/ folder: it loads where this project is not installed (`mlflow models
    serve` in a fresh environment, a Docker image)."""
    import mlops_template

    source = Path(mlops_template.__file__).parent
    package = folder / "mlops_template"
    (package / "core").mkdir(parents=True)
    modules = {c.__module__.removeprefix("mlops_template.") for c in MODEL_CLASSES}
    for module in [*MODEL_IMPORTS, *(m.replace(".", "/") + ".py" for m in sorted(modules))]:
        shutil.copyfile(source / module, package / module)
    return package


def input_example(features: pd.DataFrame) -> pd.DataFrame:
    """Five rows, number columns as float64: a missing value at serving time turns an
    integer column into floats, which an integer signature would reject, and every number
    is declared double (model_folder._declared_type), float32 ones too."""
    numbers = features.select_dtypes("number").columns
    return features.head(5).astype(dict.fromkeys(numbers, "float64"))


def model_signature(model: Any, example: pd.DataFrame, schema: TrainingSchema) -> Any:
    """The signature MLflow's server checks requests against (_signature)."""
    from mlflow.models import infer_signature

    return _signature(infer_signature(example, model.predict(example)), schema)


def _signature(inferred: Any, schema: TrainingSchema) -> Any:
    """The inferred signature, with a column optional only where the whole training data
    had missing values (MLflow judges by the five example rows). A request without a
    required column gets a 400 naming it; one without an optional column is read with
    that column missing (core/raw_rows.py). Boolean columns are declared as text: MLflow
    would turn a null in a boolean column into False; the model reads true, "TRUE" and
    null alike on every path, and dates as ISO 8601 text."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, Schema

    nullable = {c.name: c.nullable for c in schema.columns}
    as_text = {*schema.booleans, *schema.dates}
    inputs = Schema(
        [
            ColSpec(
                "string" if s.name in as_text else s.type, s.name, required=not nullable[s.name]
            )
            for s in inferred.inputs.inputs
        ]
    )
    return ModelSignature(inputs=inputs, outputs=inferred.outputs)
