"""The one error type users see: a message that says what is wrong and where."""


class PipelineError(Exception):
    """Bad input or config. The CLI prints the message (no traceback) and exits non-zero."""

    exit_code = 2


class AlreadyReported(PipelineError):
    """An error a second process of the command has printed already: the command ends
    with its exit code and says nothing more."""

    def __init__(self, exit_code: int) -> None:
        super().__init__("")
        self.exit_code = exit_code


def require_extra(module: str, extra: str, what: str) -> None:
    """A one-line error naming the extra to install when an optional package is absent
    (the core install leaves out Spark, PostgreSQL, basic auth and S3: pyproject.toml)."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise PipelineError(
            f"{what} needs the '{extra}' extra, which is not installed "
            f"(no module {module!r}): run `make env EXTRAS={extra}`"
        )
