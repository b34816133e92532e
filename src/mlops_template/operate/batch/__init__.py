"""Batch scoring: `predict` on a file or folder of rows, with pandas or Spark, into the
predictions table (exactly once per batch and model)."""
