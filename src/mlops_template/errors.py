"""The one error type users see: a message that says what is wrong and where."""


class PipelineError(Exception):
    """Bad input or config. The CLI prints the message (no traceback) and exits non-zero."""

    exit_code = 2
