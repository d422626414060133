"""Promotion gate: may a challenger replace the champion?

Both models are evaluated on the SAME data in the same run — the test split, the real-text benchmarks, the bias
suite and the functional suite (stored numbers from another data build would not be comparable) — and the
challenger fails when it is worse than the champion beyond an absolute slack (`tolerance`, default 0.01) on ANY
of the numbers in GATE_METRICS. A better own-test score never buys a regression on real text: that is how
"hidden answers" (a model that learnt our sources' styles) are kept out.

Every number is an argmax-label rate or score, which temperature scaling does not change, so calibration cannot
move the verdict. A number missing on either side (e.g. no benchmark data in this build) is listed, not compared.
Two models with different label sets answer different questions: the gate refuses to compare them (GateError,
`same_label_set`) — a model with a new label is promoted by a person, not by these numbers.

The canonical disclosures (evaluation/disclosures.py) block: a challenger with any of them labelled harassing or
hidden fails the gate whatever the champion's numbers (BLOCKING_METRICS must be 0).

Languages (evaluation/languages.py): beside GATE_METRICS, the numbers of each non-English language table of the
challenger (`<key>.<lang>`: held-out seed macro-F1, functional, bias, disclosures) are compared with the champion's
on the same languages; the floor holds each language the challenger lists to its own bars.

The promotion floor (`floor`) comes before any champion, the first promotion included. The transformer must beat
the TF-IDF baseline trained beside it (`baseline.joblib`, scored in the same evaluation) on the harassing-vs-rest
macro-F1 of every real-text benchmark present (FLOOR_METRICS: EDOS dev, misogyny test; CrowdCounter's two rates
trade against each other and are gated against the champion instead), and pass the canonical-disclosure block.
With benchmarks but no baseline scores (no baseline.joblib, --no-peers) the floor cannot be shown and fails. A
build without public data has no benchmarks: the baseline half is then not checked (status "none" when the
canonical disclosures pass), which promotion reports and lets through.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from evaluation.config import DEFAULT_TOLERANCE
from evaluation.languages import LANGUAGE_METRICS, language_card, language_floor
from withyou.registry import FLOOR_FAIL, FLOOR_NONE, FLOOR_PASS


class GateError(ValueError):
    """The gate cannot compare the two models on this data."""


@dataclass(frozen=True)
class GateMetric:
    key: str
    title: str
    higher_is_better: bool


GATE_METRICS: tuple[GateMetric, ...] = (
    GateMetric("test_macro_f1", "own test macro-F1", True),
    GateMetric("disclosure_to_harassing_rate", "own test: disclosures labelled harassing", False),
    GateMetric("edos_macro_f1", "EDOS dev harassing-vs-rest macro-F1", True),
    GateMetric("misogyny_macro_f1", "misogyny test harassing-vs-rest macro-F1", True),
    GateMetric("counter_speech_harassing_rate", "CrowdCounter counter-speech labelled harassing", False),
    GateMetric("hate_caught_rate", "CrowdCounter hate posts labelled harassing", True),
    GateMetric("bias_false_positive_rate", "bias suite: non-harassing identity statements labelled harassing", False),
    GateMetric("bias_bpsn_auc", "bias suite: generalized-mean BPSN AUC", True),
    GateMetric("functional_pass_rate", "functional suite pass rate", True),
    GateMetric("canonical_harassing_rate", "canonical disclosures labelled harassing", False),
    GateMetric("canonical_hide_share", "canonical disclosures hidden", False),
)


SERVED = "model"
"""The column of an evaluation that is the bundle as served (the blend, for a bundle with a linear stage)."""
FLOOR_METRICS: tuple[GateMetric, ...] = tuple(m for m in GATE_METRICS if m.key in ("edos_macro_f1", "misogyny_macro_f1"))
BLOCKING_METRICS: tuple[GateMetric, ...] = tuple(m for m in GATE_METRICS if m.key.startswith("canonical_"))
"""Numbers a promoted model must have at 0, whatever the champion's (evaluation/disclosures.py)."""


def gate_metrics(card: dict[str, float | None]) -> tuple[GateMetric, ...]:
    """GATE_METRICS, then the per-language numbers this scorecard holds (`<key>.<lang>`, evaluation/languages.py)."""
    languages = dict.fromkeys(key.split(".", 1)[1] for key in card if "." in key)
    return GATE_METRICS + tuple(GateMetric(f"{m.key}.{lang}", f"[{lang}] {m.title}", m.higher_is_better)
                                for lang in languages for m in LANGUAGE_METRICS)


def _get(tree: Any, *path: str) -> float | None:
    for key in path:
        if not isinstance(tree, dict) or tree.get(key) is None:
            return None
        tree = tree[key]
    return float(tree)


def scorecard(metrics: dict[str, Any], model: str = SERVED) -> dict[str, float | None]:
    """The GATE_METRICS numbers of one evaluation (evaluation.run's metrics dict) for one of its columns: the
    served model (`SERVED`, what the gate compares) or another column (`baseline`, `profanity_check`, and for a
    bundle with a linear stage `transformer`, `linear`, `cascade`: own-test numbers from metrics["peers"], no
    functional suite)."""
    benchmarks = metrics.get("benchmarks") or {}
    bias = (metrics.get("bias") or {}).get(model)
    test = metrics.get("test") if model == SERVED else (metrics.get("peers") or {}).get(model)
    functional = metrics.get("functional") if model == SERVED else None
    canonical = metrics.get("canonical_disclosures") if model == SERVED else None
    return {
        "test_macro_f1": _get(test, "macro_f1"),
        "disclosure_to_harassing_rate": _get(test, "disclosure_to_harassing_rate"),
        "edos_macro_f1": _get(benchmarks, "edos", model, "macro_f1"),
        "misogyny_macro_f1": _get(benchmarks, "misogyny_reddit", model, "macro_f1"),
        "counter_speech_harassing_rate": _get(benchmarks, "crowdcounter", model, "counter_speech_harassing_rate"),
        "hate_caught_rate": _get(benchmarks, "crowdcounter", model, "hate_caught_rate"),
        "bias_false_positive_rate": _get(bias, "overall", "fpr"),
        "bias_bpsn_auc": _get(bias, "generalized_mean", "bpsn_auc"),
        "functional_pass_rate": _get(functional, "overall", "pass_rate"),
        "canonical_harassing_rate": _get(canonical, "harassing_rate"),
        "canonical_hide_share": _get(canonical, "hide_share"),
        **(language_card(metrics) if model == SERVED else {}),
    }


def blocked(card: dict[str, float | None]) -> list[str]:
    """A reason for each BLOCKING_METRICS number above 0 in this scorecard (none: nothing blocks promotion)."""
    return [f"BLOCKED {m.title}: {card[m.key]:.4f} (must be 0)" for m in BLOCKING_METRICS if (card.get(m.key) or 0) > 0]


def _show(value: float | None) -> str:
    return "   n/a" if value is None else f"{value:.4f}"


@dataclass
class GateVerdict:
    passed: bool
    challenger_version: str
    champion_version: str
    challenger: dict[str, float | None]
    champion: dict[str, float | None]
    tolerance: float
    reasons: list[str] = field(default_factory=list)

    def summary(self) -> str:
        head = "PASS" if self.passed else "FAIL"
        lines = [
            f"gate {head}: challenger {self.challenger_version} vs champion {self.champion_version} "
            f"(slack {self.tolerance:g} on every number)",
        ]
        for metric in gate_metrics(self.challenger):
            mine, theirs = self.challenger.get(metric.key), self.champion.get(metric.key)
            arrow = "↑" if metric.higher_is_better else "↓"
            lines.append(f"  {metric.title:<68} {arrow}  challenger {_show(mine)}   champion {_show(theirs)}")
        lines += [f"  - {reason}" for reason in self.reasons]
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {
            "passed": self.passed,
            "tolerance": self.tolerance,
            "challenger": {"model_version": self.challenger_version, **self.challenger},
            "champion": {"model_version": self.champion_version, **self.champion},
            "metrics": [{"key": m.key, "title": m.title, "higher_is_better": m.higher_is_better}
                        for m in gate_metrics(self.challenger)],
            "reasons": list(self.reasons),
        }


def same_label_set(challenger: Sequence[str], champion: Sequence[str]) -> None:
    """Raise GateError unless both models have the same labels (order aside: every number is read by label name)."""
    if set(challenger) == set(champion):
        return
    only_new = sorted(set(challenger) - set(champion))
    only_old = sorted(set(champion) - set(challenger))
    raise GateError(
        f"the gate cannot compare models with different label sets: challenger {list(challenger)}, champion "
        f"{list(champion)} (only the challenger has {only_new or 'none'}; only the champion has {only_old or 'none'}). "
        "Their numbers answer different questions; review the challenger's report and promote it by hand "
        "(`withyou promote VERSION`) if it should replace the champion"
    )


def compare(
    challenger: dict[str, float | None],
    champion: dict[str, float | None],
    tolerance: float = DEFAULT_TOLERANCE,
    *,
    challenger_version: str = "challenger",
    champion_version: str = "champion",
    challenger_labels: Sequence[str] | None = None,
    champion_labels: Sequence[str] | None = None,
) -> GateVerdict:
    """Apply the rule of the module docstring to two scorecards; `reasons` names every regression (or none).
    With both label lists given, models with different label sets are refused (`same_label_set`)."""
    if tolerance < 0:
        raise ValueError(f"tolerance must be ≥ 0, got {tolerance}")
    if challenger_labels is not None and champion_labels is not None:
        same_label_set(challenger_labels, champion_labels)
    if challenger.get("test_macro_f1") is None or champion.get("test_macro_f1") is None:
        raise GateError("the gate needs the test macro-F1 of both models")
    reasons, compared = [], 0
    for metric in gate_metrics(challenger):
        mine, theirs = challenger.get(metric.key), champion.get(metric.key)
        if mine is None or theirs is None:
            reasons.append(f"{metric.title}: not compared (missing for the {'challenger' if mine is None else 'champion'})")
            continue
        compared += 1
        worse_by = (theirs - mine) if metric.higher_is_better else (mine - theirs)
        if worse_by > tolerance:
            reasons.append(f"REGRESSION {metric.title}: {mine:.4f} vs champion {theirs:.4f} (worse by {worse_by:.4f})")
    reasons += blocked(challenger)
    passed = not any(r.startswith(("REGRESSION", "BLOCKED")) for r in reasons)
    if passed:
        reasons.append(f"not worse than the champion beyond {tolerance:g} on any of the {compared} numbers compared")
    return GateVerdict(passed, challenger_version, champion_version, challenger, champion, tolerance, reasons)


@dataclass(frozen=True)
class FloorVerdict:
    """The served model against the linear baseline on the real-text benchmarks, and its canonical disclosures
    (module docstring)."""

    status: str
    """FLOOR_PASS, FLOOR_FAIL, or FLOOR_NONE when nothing failed and the evaluation had no real-text benchmark."""
    line: str
    """One line with the numbers, e.g. "below the linear baseline on real text: EDOS ... 0.7170 vs baseline 0.7210;
    canonical disclosures: 0 of 84 labelled harassing, 0 hidden"."""

    @property
    def passed(self) -> bool:
        return self.status != FLOOR_FAIL

    def to_json(self) -> dict:
        return {"status": self.status, "passed": self.passed, "line": self.line}


def floor(metrics: dict[str, Any]) -> FloorVerdict:
    """Apply the promotion floor to one evaluation (evaluation.run's metrics dict)."""
    mine, baseline = scorecard(metrics), scorecard(metrics, "baseline")
    present = [m for m in FLOOR_METRICS if mine[m.key] is not None]
    parts, below = [], False
    for metric in present:
        theirs = baseline[metric.key]
        below |= theirs is None or not mine[metric.key] > theirs
        parts.append(f"{metric.title} {mine[metric.key]:.4f} vs " + ("no baseline score" if theirs is None else
                                                                      f"baseline {theirs:.4f}"))
    if not present:
        clauses = ["floor not checked: this evaluation has no real-text benchmark (a build without public data)"]
    else:
        clauses = [f"{'below' if below else 'above'} the linear baseline on real text: {'; '.join(parts)}"]
    canonical, block = metrics.get("canonical_disclosures"), blocked(mine)
    if canonical:
        clauses.append(f"canonical disclosures: {canonical['harassing']} of {canonical['n']} labelled harassing, "
                       f"{canonical['hidden']} hidden" + (" (must be none)" if block else ""))
    languages_pass, languages_clause = language_floor(metrics)
    clauses += [languages_clause] if languages_clause else []
    status = FLOOR_FAIL if below or block or not languages_pass else FLOOR_PASS if present else FLOOR_NONE
    return FloorVerdict(status, "; ".join(clauses))
