"""REST serving: MLflow's scoring app on a registry alias, with a shorter path for JSON
rows in front (`serve`), and the MLflow UI."""
