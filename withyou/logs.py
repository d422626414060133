"""One logging policy for every WithYou process — the service's workers, the review app, the CLI: no post text.

Why a filter and not care at each call site: the libraries under us log request data on their error paths.
BentoML logs `Exception on /classify` with a traceback whose pydantic ValidationError quotes the input (for
malformed JSON, the start of the raw body); uvicorn and h11 put the bytes they could not parse in exception
messages. `configure_logging` installs `PrivacyFilter` on every handler that exists (root's and each
logger's), so the policy holds for records from any library:

- A record carrying an exception keeps its stack frames (file, line, code — not data), but each exception's
  message is replaced by its type name, unless the type only ever names files or modules (`SAFE_MESSAGES`).
- BentoML's `Exception on <path>` for a request that failed validation is dropped: it is a client error, and
  the guard (serving/guard.py) has already logged it as one short line (status, reason, request id).
- Invisible characters in a message or its arguments are escaped (`\\n`, `\\x1b`, `\\u202e`): control characters
  (newlines included), line and paragraph separators, lone surrogates, and format characters (Unicode category Cf:
  bidi overrides and isolates such as U+202E and U+2066, the Arabic letter mark U+061C, zero-width characters such
  as U+200B). So no client-chosen field, such as an item id, can forge a log line, reorder what a reader sees, hide
  text from a search, or turn the log binary.

Our own code never passes post text to a logger; this filter is the net under what we do not control.
"""

from __future__ import annotations

import logging
import traceback
import unicodedata
from typing import Any

INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})  # Unicode categories escaped in logs (see the docstring)
SAFE_MESSAGES = (OSError, ImportError)  # messages name files and modules
SAFE_MESSAGE_NAMES = {"BundleError"}  # withyou's, by name: logging must not import the bundle reader
WITHHELD = "(message withheld: it may quote request data)"


def escape(text: str) -> str:
    """`text` with every invisible character written as a visible escape (\\n, \\x1b, \\u202e, \\u200b)."""
    if text.isprintable():  # str.isprintable is False for every category in INVISIBLE: the common case is free
        return text
    return "".join(
        char.encode("unicode_escape", "backslashreplace").decode("ascii")
        if unicodedata.category(char) in INVISIBLE
        else char
        for char in text
    )


def qualified_name(exc_type: type) -> str:
    module = exc_type.__module__
    return exc_type.__qualname__ if module == "builtins" else f"{module}.{exc_type.__qualname__}"


def safe_message(exc: BaseException) -> str:
    names = {cls.__name__ for cls in type(exc).__mro__ if cls.__module__.startswith("withyou.")}
    if isinstance(exc, SAFE_MESSAGES) or names & SAFE_MESSAGE_NAMES:
        return escape(str(exc))
    return WITHHELD


def describe_exception(exc: BaseException) -> str:
    """A traceback with each chained exception's message withheld (see `safe_message`)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    parts = []
    for link in reversed(chain):
        frames = "".join(traceback.format_tb(link.__traceback__))
        parts.append(f"Traceback (most recent call last):\n{frames}{qualified_name(type(link))}: {safe_message(link)}")
    return "\n\nThe above exception led to:\n\n".join(parts)


def is_validation_error(exc: BaseException | None) -> bool:
    return exc is not None and any(cls.__name__ == "ValidationError" for cls in type(exc).__mro__)


def escape_arg(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return escape(value if isinstance(value, str) else str(value))


class PrivacyFilter(logging.Filter):
    """Rewrites each record once (handlers share it): exception messages withheld, control characters escaped."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "withyou_clean", False):
            return True
        exc = record.exc_info[1] if record.exc_info else None
        if is_validation_error(exc) and str(record.msg).startswith("Exception on"):
            return False  # a rejected request: serving/guard.py logs it as one line
        if exc is not None:
            record.exc_text = describe_exception(exc)
            record.exc_info = None
        if isinstance(record.msg, str):
            record.msg = escape(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(escape_arg(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: escape_arg(value) for key, value in record.args.items()}
        record.withyou_clean = True
        return True


PRIVACY_FILTER = PrivacyFilter()


def configure_logging(level: str | None = None) -> None:
    """Apply the policy to every handler there is now, and to the last-resort handler logging uses when a record
    finds none. Idempotent: call it again after a library (re)configures logging. When `level` is given,
    `withyou` loggers log at it; they are re-enabled because BentoML's worker config disables unknown loggers."""
    handlers = [logging.lastResort] if logging.lastResort else []
    for logger in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
        if not isinstance(logger, logging.Logger):
            continue  # a placeholder for a logger not created yet
        if logger.name.startswith("withyou"):
            logger.disabled = False
        handlers += logger.handlers
    for handler in handlers:
        if PRIVACY_FILTER not in handler.filters:
            handler.addFilter(PRIVACY_FILTER)
    if level:
        logging.getLogger("withyou").setLevel(level.upper())
