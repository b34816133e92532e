"""Machinery the tests share: temporary MLflow stores, registered versions."""
