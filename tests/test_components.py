"""A missing component fails the run under CI=true and is skipped, with its reason, elsewhere (tests/components.py)."""

from __future__ import annotations

import pytest

from tests.components import import_or_missing, missing_component


def test_a_missing_component_fails_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="PostgreSQL is not installed.*CI=true"):
        missing_component("PostgreSQL is not installed")


def test_a_missing_component_is_skipped_with_its_reason_outside_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL is not installed"):
        missing_component("PostgreSQL is not installed")


def test_a_missing_module_fails_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="needs the spark extra"):
        import_or_missing("no_such_module_withyou", "needs the spark extra")
    assert import_or_missing("json", "never missing").dumps([]) == "[]"
