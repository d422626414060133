"""Test-only fault for tests/serving/test_invalid_answer.py (on PYTHONPATH there only).

An item whose id starts with "bad-answer" gets an action outside allow / review / hide, as a bug in the policy or
a bundle would give: the answer then breaks serving/schemas.py ClassifyResult although the request was valid.
"""

import withyou.bundle

_as_result = withyou.bundle.Prediction.as_result


def _as_result_or_break(self, model_version):
    result = _as_result(self, model_version)
    if str(self.id).startswith("bad-answer"):
        result["action"] = "quarantine"
    return result


withyou.bundle.Prediction.as_result = _as_result_or_break
