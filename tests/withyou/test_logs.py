"""The logging policy (withyou/logs.py): what libraries log on error paths loses request data on the way out."""

from __future__ import annotations

import io
import logging

import pytest
from pydantic import BaseModel

from withyou.bundle import BundleError
from withyou.logs import PrivacyFilter, escape

MARKER = "zebra-marker he touched me"


class Post(BaseModel):
    text: str


def emit(logger_name: str, message: str, *args, exc: BaseException | None = None) -> str:
    """What a handler carrying the filter writes for one record."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("[%(name)s] %(message)s"))
    handler.addFilter(PrivacyFilter())
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        if exc is None:
            logger.error(message, *args)
        else:
            try:
                raise exc
            except BaseException:
                logger.exception(message, *args)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def validation_error() -> Exception:
    try:
        Post.model_validate_json(f'{{"text": ["{MARKER}"]}}')
    except Exception as exc:
        return exc
    raise AssertionError("the input was meant to be invalid")


def test_bentoml_validation_traceback_is_dropped():
    assert emit("bentoml.serve", "Exception on %s [%s]", "/classify", "POST", exc=validation_error()) == ""


def test_exception_messages_are_withheld_but_the_stack_is_kept():
    written = emit("bentoml.serve", "Exception on %s [%s]", "/classify", "POST", exc=RuntimeError(f"bad {MARKER}"))

    assert MARKER not in written
    assert "Traceback (most recent call last)" in written
    assert "RuntimeError: (message withheld" in written


def test_chained_exception_messages_are_withheld_too():
    try:
        try:
            raise KeyError(MARKER)
        except KeyError as inner:
            raise ValueError("wrapped") from inner
    except ValueError as outer:
        written = emit("uvicorn.error", "failed", exc=outer)

    assert MARKER not in written
    assert "KeyError" in written and "ValueError" in written


def test_bundle_errors_keep_their_message_naming_the_file():
    written = emit("withyou.serving", "cannot start", exc=BundleError("bundle file /b/thresholds.json is not valid JSON"))

    assert "/b/thresholds.json is not valid JSON" in written


@pytest.mark.parametrize("forged", ["x\n2026-11-29T00:00:00+0000 [INFO] [cli] FORGED", "x\r\x1b[2Jy", "a\u2028b\x00"])
def test_control_characters_cannot_forge_a_line(forged):
    written = emit("withyou.serving", "classified %s", forged)

    assert written.count("\n") == 1  # the record's own line end only
    assert not any(ord(char) < 32 and char != "\n" for char in written)
    assert "FORGED" not in written or "\\n2026" in written


def test_escape_leaves_ordinary_text_alone():
    assert escape("café – 日本") == "café – 日本"
    assert escape("naïve עברית ☃ a\u00a0b") == "naïve עברית ☃ a\u00a0b"  # letters, symbols, spaces: readable
    assert escape("a\nb\tc") == "a\\nb\\tc"


@pytest.mark.parametrize(
    ("char", "written"),
    [
        ("\u202e", "\\u202e"),  # right-to-left override: reverses what follows on screen
        ("\u2066", "\\u2066"),  # left-to-right isolate
        ("\u061c", "\\u061c"),  # Arabic letter mark
        ("\u200b", "\\u200b"),  # zero-width space: hides a match from grep
        ("\ufeff", "\\ufeff"),  # zero-width no-break space (byte order mark)
        ("\U000e0041", "\\U000e0041"),  # tag character
    ],
)
def test_bidi_isolate_and_zero_width_characters_are_escaped(char, written):
    assert escape(f"id{char}x") == f"id{written}x"
    assert written in emit("withyou.serving", "classified %s", f"id{char}x")
