"""The evaluation suites stay unseen: no seed row, in any language, is a suite case (same text under the same parent).

The canonical disclosures, the functional suites and the bias templates grade what the model learnt from the seed
corpus; a seed row equal to a case (after the build's own normalisation, training.dedup.normalize_text) would grade
memory instead. Same words under another parent are a different item ("me too" under a call for stories is not
"me too" on its own) and are allowed.
"""

from __future__ import annotations

from evaluation.bias import load_bias_cases
from evaluation.disclosures import DEFAULT_DISCLOSURES_PATH
from evaluation.functional import DEFAULT_CASES_PATH, load_cases
from evaluation.languages import bias_path, functional_path, suite_languages
from training.build import SEED_LANGUAGES_DIR
from training.dedup import normalize_text
from withyou.paths import SEED_DIR
from withyou.records import read_jsonl


def key(text: str, parent: str | None) -> tuple[str, str]:
    return normalize_text(text), normalize_text(parent)


def suite_keys() -> dict[tuple[str, str], str]:
    cases = [*load_cases(DEFAULT_DISCLOSURES_PATH), *load_cases(DEFAULT_CASES_PATH), *load_bias_cases(bias_path("en"))]
    for lang in suite_languages():
        cases += load_cases(functional_path(lang)) if functional_path(lang).exists() else []
        cases += load_bias_cases(bias_path(lang)) if bias_path(lang).exists() else []
    return {key(c.text, c.parent_text): c.id for c in cases}


def test_the_suites_are_found():
    keys = suite_keys()
    assert len(keys) > 1000  # canonical, functional and bias cases of every language
    assert any(case.startswith("cd-bare_me_too") for case in keys.values())


def test_no_seed_row_is_a_suite_case():
    suites = suite_keys()
    paths = [*sorted(SEED_DIR.glob("*.jsonl")), *sorted((SEED_DIR / SEED_LANGUAGES_DIR).glob("*.jsonl"))]
    assert len(paths) > 10
    seen = [(record.id, suites[k]) for path in paths for record in read_jsonl(path)
            if (k := key(record.text, record.parent_text)) in suites]
    assert seen == [], "seed rows that are evaluation cases: " + ", ".join(f"{a} = {b}" for a, b in seen)
