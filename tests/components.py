"""Suites that need a component outside the virtual environment: Chromium, PostgreSQL, Java, the shared data mirror.

One policy, the same as scripts/setup-*.sh: under CI=true every suite must run, so a missing component fails the
test that needs it; elsewhere that test is skipped with a reason saying how to install the component (pytest's -ra
summary lists each skip).
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def missing_component(reason: str) -> NoReturn:
    """Fail under CI=true, skip elsewhere; works in a test, a fixture or at module level."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: every suite must run)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def import_or_missing(module: str, reason: str) -> ModuleType:
    """`module`, imported; missing_component(reason) when it is not installed."""
    try:
        return importlib.import_module(module)
    except ImportError:
        missing_component(reason)
