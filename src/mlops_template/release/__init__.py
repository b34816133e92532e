"""Release steps that act on the model registry: promote, rollback, retire.

They run after `dvc repro` (in CI on the main branch, or by hand), never inside it.
"""
