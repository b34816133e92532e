"""The scoring server's app, as uvicorn imports it in each worker (`make serve`):
MLflow's scoring app (`mlflow.pyfunc.scoring_server.app`, read from the same variables)
with the shorter path for JSON rows in front of it (operate/serving/fast_scoring.py),
and the inference log when `serve` set it up (operate/serving/inference_log.py).

A worker that cannot start (a module, the model or the log) ends with uvicorn's
STARTUP_FAILURE, which stops the server, and `serve` with an error: with any other exit
code, uvicorn's supervisor would start it again, failing the same way, forever."""

import os
import sys
import traceback

# A worker's exit code for a failure before serving: uvicorn's supervisor then stops
# every worker and itself.
from uvicorn.config import STARTUP_FAILURE


def _app():
    import json
    import warnings

    from mlflow.environment_variables import MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT
    from mlflow.pyfunc import scoring_server
    from sklearn.exceptions import InconsistentVersionWarning

    from mlops_template.core.schema import TrainingSchema
    from mlops_template.operate.serving.fast_scoring import ScoringApp
    from mlops_template.operate.serving.inference_log import ENV, SHADOW_ENV, InferenceLog

    with warnings.catch_warnings():
        # serve said it once (model_file.load_model) before the workers start: MLflow's
        # load says it once per estimator, in every worker.
        warnings.simplefilter("ignore", InconsistentVersionWarning)
        model = scoring_server.load_model_with_mlflow_config(
            os.environ[scoring_server._SERVER_MODEL_PATH]
        )
        log = None
        if settings := os.environ.get(ENV):
            schema = TrainingSchema.of(model.metadata.metadata["schema"])
            shadow = None
            # serve checked the shadow's folder as it checks the served one
            if shadow_folder := os.environ.get(SHADOW_ENV):
                shadow = scoring_server.load_model_with_mlflow_config(shadow_folder)
                shadow = shadow.get_raw_model()
            log = InferenceLog(json.loads(settings), model.get_raw_model(), schema, shadow)
    return ScoringApp(
        scoring_server.init(model), model, MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT.get(), log
    )


try:
    app = _app()
except (Exception, SystemExit) as failure:  # a library's sys.exit too; not Ctrl-C
    traceback.print_exc()
    print(
        f"error: a scoring worker could not start: {type(failure).__name__}: {failure}",
        file=sys.stderr,
    )
    sys.exit(STARTUP_FAILURE)
