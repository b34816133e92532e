"""The one error type users see: a message that says what is wrong and where."""

import re

# The password of a URI's user info (`scheme://user:password@host`: a tracking server, a
# database, an object store), up to the last `@` of the URI that a host can follow: a
# password may hold `/` and `@` unescaped (SQLAlchemy reads it so). And the value of a
# query parameter that carries a secret (`?token=`, a presigned URL's `X-Amz-Signature=`
# and `X-Amz-Credential=`, an Azure SAS's `sig=`).
_PASSWORD = re.compile(
    r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/?#@:]*:)\S*@(?=[^\s/?#@]*(?:[\s/?#'\"),;]|$))"
)
_SECRET_PARAMETER = re.compile(
    r"([?&;][\w.-]*(?:token|secret|passw|pwd|signature|sig|credential|key|auth)[\w.-]*=)"
    r"[^\s&#'\"]*",
    re.IGNORECASE,
)
REDACTED = "***"


def conflict_line(text: str) -> int | None:
    """The line of the first merge-conflict marker a file holds (`git merge` and `copier
    update` leave them), or None: said as such rather than as the error it causes."""
    found = re.search(r"(?m)^<<<<<<< ", text)
    return None if found is None else text.count("\n", 0, found.start()) + 1


CONFLICT = "an unresolved merge conflict: resolve it"


class PipelineError(Exception):
    """Bad input or config. The CLI prints the message (no traceback) and exits non-zero."""

    exit_code = 2
    # Native threads left in a bad state (deltalake's writer after a full disk) can abort
    # the interpreter's shutdown (C++ terminate, exit 134): the command then ends at once.
    exit_at_once = False


class NothingLogged(PipelineError):
    """No evidence yet: nothing logged, or none of the rows asked for (shadow rows). The
    gate's live check reads it as no evidence; every other error stops the command."""


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


def redact(text: str) -> str:
    """`text` (a URI, or a message or command line holding URIs) with the credentials in
    its URIs replaced by ***: user names stay, so a message still says who connected."""
    text = _PASSWORD.sub(rf"\1{REDACTED}@", text)
    return _SECRET_PARAMETER.sub(rf"\1{REDACTED}", text)
