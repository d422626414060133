"""Identity-term bias suite: expanding the templates, and the Borkan et al. bias metrics on scorers whose bias
is known by construction."""

from collections import Counter

import numpy as np
import pytest

from evaluation.bias import bias_metrics, generalized_mean, load_bias_cases, run_bias_suite
from withyou.labels import LABELS
from withyou.records import DataError

HARASSING = LABELS.index("harassing")
NEUTRAL = LABELS.index("neutral")


@pytest.fixture(scope="module")
def cases():
    return load_bias_cases()


def scorer_from(p_harassing):
    """A scorer whose P(harassing) is `p_harassing(case)`; the rest of the mass goes to neutral."""

    def score(texts, parent_texts, by_text):
        probs = np.zeros((len(texts), len(LABELS)))
        for i, key in enumerate(zip(texts, parent_texts)):
            probs[i, HARASSING] = p_harassing(by_text[key])
            probs[i, NEUTRAL] = 1 - probs[i, HARASSING]
        return probs

    return score


def run(cases, p_harassing, thresholds=None):
    by_text = {(c.text, c.parent_text): c for c in cases}
    score = scorer_from(p_harassing)
    return run_bias_suite(lambda texts, parents: score(texts, parents, by_text), cases, thresholds)


def truth(case):
    return 0.9 if case.label == "harassing" else 0.1


def test_shipped_templates_expand_to_at_least_300_cases_with_unique_ids(cases):
    assert len(cases) >= 300
    assert len({c.id for c in cases}) == len(cases)
    assert len({(c.text, c.parent_text) for c in cases}) == len(cases)
    assert {c.label for c in cases} <= set(LABELS)


def test_every_term_has_neutral_supportive_and_harassing_cases(cases):
    per_term = Counter((c.term, c.label) for c in cases)
    terms = {c.term for c in cases}
    assert len(terms) >= 12
    for term in terms:
        for label in ("neutral", "supportive", "harassing"):
            assert per_term[term, label] >= 6, (term, label)


def test_the_term_appears_in_the_scored_text_and_no_placeholder_is_left(cases):
    for case in cases:
        assert case.term.lower() in case.text.lower()
        assert "{" not in case.text and "{" not in (case.parent_text or "")


def test_expansion_order_is_deterministic(cases):
    assert [c.id for c in load_bias_cases()] == [c.id for c in cases]


def test_perfect_scorer_has_every_auc_one_and_no_false_positives(cases):
    result = run(cases, truth)
    assert result["overall"]["auc"] == 1.0 and result["overall"]["fpr"] == 0.0
    for row in result["per_term"].values():
        assert (row["subgroup_auc"], row["bpsn_auc"], row["bnsp_auc"], row["fpr"]) == (1.0, 1.0, 1.0, 0.0)
    assert result["generalized_mean"]["bpsn_auc"] == pytest.approx(1.0)
    assert result["final_score"] == pytest.approx(1.0)


def test_scorer_that_flags_every_mention_of_one_term_is_caught_for_that_term_only(cases):
    target = "lesbians"
    result = run(cases, lambda c: 0.95 if c.term == target else truth(c))
    flagged = result["per_term"][target]
    assert flagged["fpr"] == 1.0
    assert flagged["bpsn_auc"] == 0.0  # every subgroup negative outscores every background positive
    assert flagged["subgroup_auc"] == 0.5  # one score for the whole subgroup: no separation at all
    for term, row in result["per_term"].items():
        if term != target:
            assert row["fpr"] == 0.0 and row["bpsn_auc"] == 1.0 and row["subgroup_auc"] == 1.0
    assert result["worst_term"]["bpsn_auc"] == {"term": target, "value": 0.0}
    assert result["worst_term"]["fpr"]["term"] == target
    assert result["generalized_mean"]["bpsn_auc"] < 0.5
    assert result["overall"]["fpr"] == pytest.approx(1 / len(result["per_term"]))


def test_abuse_of_one_group_scored_low_shows_in_bnsp_not_bpsn(cases):
    target = "trans men"
    result = run(cases, lambda c: 0.05 if c.term == target else truth(c))
    row = result["per_term"][target]
    assert row["bnsp_auc"] == 0.0 and row["bpsn_auc"] == 1.0 and row["fpr"] == 0.0
    assert result["worst_term"]["bnsp_auc"]["term"] == target


def test_hide_and_review_shares_count_non_harassing_cases_over_each_threshold(cases):
    target = "women"
    result = run(cases, lambda c: 0.7 if c.term == target and c.label != "harassing" else truth(c),
                 thresholds={"review": 0.5, "hide": 0.8})
    row = result["per_term"][target]
    assert row["review_or_hide_share"] == 1.0 and row["hide_share"] == 0.0
    n_terms = len(result["per_term"])
    assert result["overall"]["review_or_hide_share"] == pytest.approx(1 / n_terms)
    assert result["overall"]["hide_share"] == 0.0


def test_without_thresholds_the_shares_are_none(cases):
    result = run(cases, truth)
    assert result["thresholds"] is None
    assert result["overall"]["hide_share"] is None and result["per_term"]["men"]["review_or_hide_share"] is None


def test_term_with_one_class_has_no_subgroup_auc_instead_of_crashing(cases):
    only_neutral_for_men = [c for c in cases if c.term != "men" or c.label == "neutral"]
    result = run(only_neutral_for_men, truth)
    men = result["per_term"]["men"]
    assert men["subgroup_auc"] is None and men["bnsp_auc"] is None
    assert men["bpsn_auc"] == 1.0 and men["n_harassing"] == 0
    assert result["generalized_mean"]["subgroup_auc"] == pytest.approx(1.0)  # the None is skipped


def test_generalized_mean_is_pulled_towards_the_lowest_value():
    assert generalized_mean([0.9, 0.9, 0.9]) == pytest.approx(0.9)
    assert generalized_mean([1.0, 0.5]) == pytest.approx((0.5 * (1.0 + 0.5**-5)) ** (-1 / 5))
    assert 0.5 < generalized_mean([1.0, 0.5]) < 0.6  # the arithmetic mean would be 0.75
    assert generalized_mean([None, None]) is None
    assert generalized_mean([0.0, 1.0]) == 0.0


def test_probabilities_of_the_wrong_shape_are_an_error(cases):
    with pytest.raises(ValueError, match="shape"):
        bias_metrics(cases, np.zeros((len(cases), 2)))


def test_template_that_does_not_name_the_term_is_a_data_error(tmp_path):
    path = tmp_path / "templates.toml"
    path.write_text('terms = ["women", "men"]\n[[templates]]\nid = "t"\nlabel = "neutral"\ntext = "Nice weather."\n')
    with pytest.raises(DataError, match="does not name the term"):
        load_bias_cases(path)


def test_unknown_placeholder_and_unknown_label_are_data_errors(tmp_path):
    path = tmp_path / "templates.toml"
    path.write_text('terms = ["women", "men"]\n[[templates]]\nid = "t"\nlabel = "neutral"\ntext = "{terms} {name}"\n')
    with pytest.raises(DataError, match="placeholder"):
        load_bias_cases(path)
    path.write_text('terms = ["women", "men"]\n[[templates]]\nid = "t"\nlabel = "toxic"\ntext = "{terms}"\n')
    with pytest.raises(DataError, match="label"):
        load_bias_cases(path)


def test_duplicate_template_id_is_a_data_error(tmp_path):
    path = tmp_path / "templates.toml"
    template = '[[templates]]\nid = "t"\nlabel = "neutral"\ntext = "{Terms} agree."\n'
    path.write_text('terms = ["women", "men"]\n' + template + template)
    with pytest.raises(DataError, match="duplicate case id 't.women'"):
        load_bias_cases(path)
