"""Test-only fault injection for the servers of tests/serving/test_privacy.py (on PYTHONPATH there only).

A /classify item whose text contains RAISE-500 makes the model call raise an error that quotes the text, the
worst case for a log: the 500 path must not write it anywhere.
"""

import withyou.bundle

_predict = withyou.bundle.Classifier.predict


def _predict_or_fail(self, items, thresholds=None):
    for item in items:
        if "RAISE-500" in getattr(item, "text", ""):
            raise RuntimeError(f"injected fault while scoring {item.text!r}")
    return _predict(self, items, thresholds)


withyou.bundle.Classifier.predict = _predict_or_fail
