"""Per-language evaluation (issue 19): one table per language, and each listed language's own gate.

A bundle's metadata `languages` lists the languages its posts are acted on in like English ones (hidden when the
model is sure; withyou/language.py). Each such language is graded on its own, on the served model at the fitted
temperature and thresholds:
- held-out seed macro-F1 (four labels) and disclosures labelled harassing: the test split's seed rows in the
  language (the multilingual build holds each language out in validation and test, training/build.py);
- the functional suite: every functional case written in the language (evaluation/functional/cases_<lang>.jsonl,
  and the main file's cases in it), passed when the label with the parent is right;
- the identity-term bias suite evaluation/bias/templates_<lang>.toml: non-harassing statements labelled harassing;
- disclosures hidden: the language's disclosures (held-out seed rows and functional cases) the served policy hides
  (P(harassing) ≥ the hide threshold, in a language the bundle reads: withyou.language.is_supported).

Graded languages (`graded_languages`): English always, every other language the bundle reads (a listed code and the
suites' script variants of it: "hi" reads "hi-Latn"), and any asked for (EvaluationConfig.languages: what a model
does with a language it does not list, e.g. today's English model on French). An English-only bundle gets the
English table alone, whose bias numbers are the English suite's from the main evaluation; nothing else is scored
again but the English functional cases.

The gate (evaluation/gate.py): every LANGUAGE_METRICS number of every non-English table is compared with the
champion's, evaluated on the same languages, with the gate's slack. The promotion floor holds each listed
non-English language to its bars (`LANGUAGE_BARS`, from issue 19's targets; `DEFAULT_BARS` for a language without
its own): a listed language with no functional suite, or no held-out rows where its bars ask for macro-F1, fails —
it was not evaluated, so it must not be served. English is gated as before, by the main numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import f1_score

from evaluation.bias import DEFAULT_TEMPLATES_PATH, load_bias_cases, run_bias_suite
from evaluation.functional import DEFAULT_CASES_PATH, FunctionalCase, load_cases
from evaluation.metrics import DISCLOSURE, HARASSING, label_ids
from withyou.labels import LABELS
from withyou.language import detect, is_supported, reads
from withyou.policy import Thresholds
from withyou.records import Record

ENGLISH = "en"
Scorer = Callable[[Sequence[str], Sequence[str | None]], np.ndarray]


@dataclass(frozen=True)
class LanguageBars:
    """What a listed language must reach to be served (None: not asked)."""

    functional_pass_rate: float
    heldout_macro_f1: float | None = None
    bias_false_positive_rate: float | None = None
    disclosures_hidden: int = 0


LANGUAGE_BARS: dict[str, LanguageBars] = {
    "fr": LanguageBars(functional_pass_rate=0.80, heldout_macro_f1=0.80, bias_false_positive_rate=0.03),
    "es": LanguageBars(functional_pass_rate=0.80, heldout_macro_f1=0.80, bias_false_positive_rate=0.03),
    "hi": LanguageBars(functional_pass_rate=0.70),
    "hi-Latn": LanguageBars(functional_pass_rate=0.70),
    "ja": LanguageBars(functional_pass_rate=0.70),
}
"""Issue 19's targets. French and Spanish have the most seed rows (a held-out split of ~27 posts each) and 83
functional cases; Hindi (both scripts) and Japanese fewer, so their macro-F1 is reported, not barred."""
DEFAULT_BARS = LanguageBars(functional_pass_rate=0.70)
"""A listed language without an entry in LANGUAGE_BARS: its functional suite at 70 %, no disclosure hidden."""


@dataclass(frozen=True)
class LanguageMetric:
    key: str
    title: str
    higher_is_better: bool


LANGUAGE_METRICS: tuple[LanguageMetric, ...] = (
    LanguageMetric("heldout_macro_f1", "held-out seed macro-F1", True),
    LanguageMetric("disclosure_to_harassing_rate", "held-out seed disclosures labelled harassing", False),
    LanguageMetric("functional_pass_rate", "functional suite pass rate", True),
    LanguageMetric("bias_false_positive_rate", "bias suite: non-harassing identity statements labelled harassing",
                   False),
    LanguageMetric("disclosures_hidden", "disclosures hidden (held-out seed + functional)", False),
)
"""The numbers of a language's table that the gate compares with the champion's (card key `<key>.<lang>`)."""


def functional_path(lang: str) -> Path:
    return DEFAULT_CASES_PATH.parent / f"cases_{lang}.jsonl"


def bias_path(lang: str) -> Path:
    return DEFAULT_TEMPLATES_PATH if lang == ENGLISH else DEFAULT_TEMPLATES_PATH.parent / f"templates_{lang}.toml"


def suite_languages() -> list[str]:
    """Languages with a functional suite or a bias suite of their own."""
    functional = {p.stem.removeprefix("cases_") for p in DEFAULT_CASES_PATH.parent.glob("cases_*.jsonl")}
    bias = {p.stem.removeprefix("templates_") for p in DEFAULT_TEMPLATES_PATH.parent.glob("templates_*.toml")}
    return sorted(functional | bias)


def graded_languages(listed: Sequence[str], asked: Sequence[str] = ()) -> list[str]:
    """English first, then every other language the bundle reads or the evaluation asks for (module docstring)."""
    others = {lang for lang in suite_languages() if reads(listed, lang)} | set(listed) | set(asked)
    return [ENGLISH, *sorted(others - {ENGLISH})]


def bars_for(lang: str) -> LanguageBars:
    return LANGUAGE_BARS.get(lang, DEFAULT_BARS)


def language_cases(lang: str, main_cases: Sequence[FunctionalCase]) -> list[FunctionalCase]:
    """Every functional case written in `lang`: the main file's and evaluation/functional/cases_<lang>.jsonl's."""
    own = load_cases(functional_path(lang)) if functional_path(lang).is_file() else []
    return [*(c for c in main_cases if c.lang == lang), *own]


def served_hidden(texts: Sequence[str], p_harassing: np.ndarray, hide: float, listed: Sequence[str]) -> np.ndarray:
    """Which posts the served policy hides: P(harassing) ≥ hide, in a language the bundle reads or too short or
    unsure to tell (withyou.language.is_supported)."""
    return np.array([p >= hide and is_supported(detect(text), text, listed) for text, p in zip(texts, p_harassing)],
                    dtype=bool)


def heldout_numbers(rows: list[int], test: Sequence[Record], test_probs: np.ndarray) -> dict[str, Any]:
    """Macro-F1 and disclosures labelled harassing over the given test rows (None where there is nothing to count)."""
    if not rows:
        return {"n": 0, "macro_f1": None, "disclosures": 0, "disclosure_to_harassing_rate": None}
    gold = label_ids([test[i].label for i in rows])
    predicted = test_probs[rows].argmax(axis=1)
    disclosures = gold == DISCLOSURE
    return {
        "n": len(rows),
        "macro_f1": float(f1_score(gold, predicted, labels=range(len(LABELS)), average="macro", zero_division=0)),
        "disclosures": int(disclosures.sum()),
        "disclosure_to_harassing_rate": float((predicted[disclosures] == HARASSING).mean()) if disclosures.any() else None,
    }


def language_table(
    lang: str,
    score: Scorer,
    listed: Sequence[str],
    test: Sequence[Record],
    test_probs: np.ndarray,
    thresholds: Thresholds,
    main_cases: Sequence[FunctionalCase],
    bias: dict | None = None,
) -> dict[str, Any]:
    """One language's numbers (module docstring). `bias`: the bias suite's result when the main evaluation already
    ran it (English); otherwise the language's own templates are scored."""
    rows = [i for i, r in enumerate(test) if r.source == "seed" and r.lang == lang]
    heldout = heldout_numbers(rows, test, test_probs)
    cases = language_cases(lang, main_cases)
    functional, failures = None, []
    hidden_texts, hidden_scores = [test[i].text for i in rows if test[i].label == "disclosure"], [
        test_probs[i, HARASSING] for i in rows if test[i].label == "disclosure"]
    if cases:
        probs = score([c.text for c in cases], [c.parent_text for c in cases])
        passed = probs.argmax(axis=1) == label_ids([c.label for c in cases])
        functional = {"n": len(cases), "passed": int(passed.sum()), "pass_rate": float(passed.mean())}
        failures = [c.id for c, ok in zip(cases, passed) if not ok]
        hidden_texts += [c.text for c in cases if c.label == "disclosure"]
        hidden_scores += [p[HARASSING] for c, p in zip(cases, probs) if c.label == "disclosure"]
    if bias is None and bias_path(lang).is_file():
        bias = run_bias_suite(score, load_bias_cases(bias_path(lang)), thresholds.model_dump())
    hidden = served_hidden(hidden_texts, np.array(hidden_scores, dtype=float), thresholds.hide, listed)
    table = {
        "listed": reads(listed, lang),
        "heldout": heldout,
        "functional": functional,
        "functional_failures": failures,
        "bias": None if bias is None else {
            "n": bias["overall"]["n"], "false_positive_rate": bias["overall"]["fpr"],
            "hide_share": bias["overall"]["hide_share"], "bpsn_auc": bias["generalized_mean"]["bpsn_auc"],
        },
        "disclosures": {"n": len(hidden_texts), "hidden": int(hidden.sum())},
    }
    table["card"] = card_numbers(table)
    table["bars"] = bar_verdict(lang, table["card"]) if table["listed"] and lang != ENGLISH else None
    return table


def card_numbers(table: dict[str, Any]) -> dict[str, float | None]:
    """A table's LANGUAGE_METRICS numbers (None where not measured)."""
    functional, bias = table["functional"] or {}, table["bias"] or {}
    return {
        "heldout_macro_f1": table["heldout"]["macro_f1"],
        "disclosure_to_harassing_rate": table["heldout"]["disclosure_to_harassing_rate"],
        "functional_pass_rate": functional.get("pass_rate"),
        "bias_false_positive_rate": bias.get("false_positive_rate"),
        "disclosures_hidden": float(table["disclosures"]["hidden"]) if table["disclosures"]["n"] else None,
    }


def bar_verdict(lang: str, card: dict[str, float | None]) -> dict[str, Any]:
    """The language's bars against its numbers: passed, and one line per bar missed (or not measured)."""
    bars, failures = bars_for(lang), []
    for key, bar in asdict(bars).items():
        if bar is None:
            continue
        value, at_least = card[key], key in ("functional_pass_rate", "heldout_macro_f1")
        title = next(m.title for m in LANGUAGE_METRICS if m.key == key)
        if value is None:
            failures.append(f"{lang}: {title} not measured (bar {'≥' if at_least else '≤'} {bar:g})")
        elif (value < bar) if at_least else (value > bar):
            failures.append(f"{lang}: {title} {value:.4g} {'below' if at_least else 'above'} its bar {bar:g}")
    return {"bars": asdict(bars), "passed": not failures, "failures": failures}


def languages_section(
    score: Scorer,
    listed: Sequence[str],
    test: Sequence[Record],
    test_probs: np.ndarray,
    thresholds: Thresholds,
    *,
    english_bias: dict | None,
    cases_path: Path | None = None,
    asked: Sequence[str] = (),
) -> dict[str, Any]:
    """metrics["languages"]: the bundle's languages and one table per graded language (`graded_languages`)."""
    path = Path(cases_path or DEFAULT_CASES_PATH)
    main_cases = load_cases(path) if path.is_file() else []
    graded = graded_languages(listed, asked)
    tables = {
        lang: language_table(lang, score, listed, test, test_probs, thresholds, main_cases,
                             bias=english_bias if lang == ENGLISH else None)
        for lang in graded
    }
    return {"listed": list(listed), "graded": graded, "tables": tables}


def language_card(metrics: dict[str, Any]) -> dict[str, float | None]:
    """The gate's per-language numbers of one evaluation: `<key>.<lang>` for every non-English table."""
    tables = (metrics.get("languages") or {}).get("tables") or {}
    return {f"{key}.{lang}": value for lang, table in tables.items() if lang != ENGLISH
            for key, value in table["card"].items()}


def language_floor(metrics: dict[str, Any]) -> tuple[bool, str | None]:
    """(passed, one clause for the floor's line) for the listed non-English languages' bars; (True, None) when the
    bundle lists none."""
    tables = (metrics.get("languages") or {}).get("tables") or {}
    verdicts = {lang: table["bars"] for lang, table in tables.items() if table.get("bars")}
    if not verdicts:
        return True, None
    failures = [line for verdict in verdicts.values() for line in verdict["failures"]]
    passed = [lang for lang, verdict in verdicts.items() if verdict["passed"]]
    clause = f"languages: {', '.join(passed) or 'none'} pass their bars"
    return not failures, clause + (f"; {'; '.join(failures)}" if failures else "")
