"""The scoring server's app, as uvicorn imports it in each worker (`make serve`):
MLflow's scoring app (`mlflow.pyfunc.scoring_server.app`, read from the same variables)
with the shorter path for JSON rows in front of it (operate/serving/fast_scoring.py),
and the inference log when `serve` set it up (operate/serving/inference_log.py)."""

import json
import os

from mlflow.environment_variables import MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT
from mlflow.pyfunc import scoring_server

from mlops_template.core.schema import TrainingSchema
from mlops_template.operate.serving.fast_scoring import ScoringApp
from mlops_template.operate.serving.inference_log import ENV, SHADOW_ENV, InferenceLog

_model = scoring_server.load_model_with_mlflow_config(os.environ[scoring_server._SERVER_MODEL_PATH])
_log = None
if settings := os.environ.get(ENV):
    _schema = TrainingSchema.of(_model.metadata.metadata["schema"])
    _shadow = None
    if shadow_folder := os.environ.get(SHADOW_ENV):  # checked by serve, as the served one
        _shadow = scoring_server.load_model_with_mlflow_config(shadow_folder).get_raw_model()
    _log = InferenceLog(json.loads(settings), _model.get_raw_model(), _schema, _shadow)
app = ScoringApp(
    scoring_server.init(_model), _model, MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT.get(), _log
)
