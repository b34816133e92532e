"""Pure logic over data frames and dicts: no files, network, MLflow or DVC here."""
