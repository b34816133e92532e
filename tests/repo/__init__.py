"""Consistency checks on the repository itself: README, dvc.yaml, MLproject, Makefile,
workflows, compose file, imports and benchmarks agree with each other and with the code.
Apart from tests/unit (logic, in process) and tests/e2e (real processes)."""
