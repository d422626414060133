"""Run the evasion catalogue (evaluation/evasion.py) against a bundle: does a hidden post stay hidden in disguise?

For each base post: its action and P(harassing), then each variant's action, P(harassing), detected language and
reason; then the posts really written in another language (never to be hidden); last, how many variants of the
hidden base posts fall below `hide`. The bundle's own thresholds unless --hide / --review are given.

    .venv/bin/python benchmarks/evasion.py --bundle artifacts/models/<version>/bundle
"""

from __future__ import annotations

import argparse

from evaluation.evasion import BASE_POSTS, FOREIGN_POSTS, VARIANTS
from withyou.bundle import Classifier, Prediction
from withyou.labels import HARASSING
from withyou.policy import Thresholds


def row(name: str, prediction: Prediction) -> str:
    return (f"| {name} | {prediction.action} | {prediction.scores[HARASSING]:.3f} | {prediction.lang} "
            f"({prediction.lang_confidence:.2f}) | {prediction.reason or ''} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", required=True, help="bundle directory")
    parser.add_argument("--review", type=float, help="review threshold (default: the bundle's)")
    parser.add_argument("--hide", type=float, help="hide threshold (default: the bundle's)")
    args = parser.parse_args()
    classifier = Classifier.from_bundle(args.bundle)
    thresholds = Thresholds(review=args.review if args.review is not None else classifier.thresholds.review,
                            hide=args.hide if args.hide is not None else classifier.thresholds.hide)
    print(f"bundle {args.bundle} ({classifier.model_version}), languages {list(classifier.languages)}, "
          f"review {thresholds.review}, hide {thresholds.hide}\n")
    header = "| post | action | P(harassing) | lang (confidence) | reason |\n|---|---|---|---|---|"
    below_hide, variants_of_hidden = 0, 0
    for base in BASE_POSTS:
        texts = [base, *(variant(base) for variant in VARIANTS.values())]
        base_prediction, *predictions = classifier.predict([{"text": text} for text in texts], thresholds)
        print(f"{base!r}\n\n{header}\n{row('base post', base_prediction)}")
        for name, prediction in zip(VARIANTS, predictions):
            print(row(name, prediction))
        if base_prediction.action == "hide":
            variants_of_hidden += len(predictions)
            below_hide += sum(prediction.action != "hide" for prediction in predictions)
        print()
    foreign = classifier.predict([{"text": text} for text in FOREIGN_POSTS.values()], thresholds)
    print(f"posts in another language (never to be hidden)\n\n{header}")
    for name, prediction in zip(FOREIGN_POSTS, foreign):
        print(row(name, prediction))
    hidden_foreign = sum(prediction.action == "hide" for prediction in foreign)
    print(f"\n{below_hide} of {variants_of_hidden} variants of hidden base posts fall below hide; "
          f"{hidden_foreign} of {len(foreign)} posts in another language hidden")


if __name__ == "__main__":
    main()
