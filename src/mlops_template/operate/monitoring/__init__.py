"""Monitoring and continuous training: drift and performance of a batch against the
champion (`monitor`), the bounded retrain-then-gate loop (`ct`), and its simulation."""
