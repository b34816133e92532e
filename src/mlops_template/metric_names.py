"""The metrics `evaluate` writes per task, and which way is better for each."""

CLASSIFICATION_METRICS = frozenset(
    {
        "accuracy",
        "balanced_accuracy",
        "f1_macro",
        "precision_macro",
        "recall_macro",
        "log_loss",
        "roc_auc",
    }
)
REGRESSION_METRICS = frozenset({"rmse", "mae", "r2"})
LOWER_IS_BETTER = frozenset({"log_loss", "rmse", "mae"})
# Those the trivial baseline scores at chance whatever the classes' shares (1/k, 0.5): a
# model below it is worse than a guess, which drift alone does not make it.
CHANCE_METRICS = frozenset({"balanced_accuracy", "recall_macro", "roc_auc"})
# In reports/cv.json when a search ran out of tune.timeout before tune.trials: it tried
# as many settings as the machine had time for, so its score depends on the machine.
STOPPED_BY_TIME = "cv_search_stopped_by_time"


def improvement(metric: str, new: float, old: float) -> float:
    """How much better `new` is than `old`: positive is better, whichever way `metric` runs."""
    return old - new if metric in LOWER_IS_BETTER else new - old
