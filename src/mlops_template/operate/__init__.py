"""Operate steps: act on new batches with the current champion (predict, monitor, ct)."""
