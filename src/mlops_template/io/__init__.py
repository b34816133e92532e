"""Everything that touches the world: files, datasets, the model file, MLflow, DVC."""
