"""A reproducible DVC + MLflow project template for tabular data."""
