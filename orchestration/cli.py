"""`withyou` — one CLI, one subcommand group per stage.

Each stage owns its commands in `<stage>/cli.py` and exposes `register(app)`. Those modules import only
typer at module level; heavy libraries (torch, bentoml) load inside the command that needs them, so
`withyou --help` is fast and a missing extra fails with a clear message only where it is needed.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="withyou",
    help="WithYou: classify posts about sexual harassment and assault (disclosure, supportive, harassing, neutral).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def main() -> None:
    """Applies the one logging policy (withyou/logs.py: no post text in any log) to every command."""
    from withyou.logs import configure_logging

    configure_logging()


def _register_stages() -> None:
    from evaluation.cli import register as register_evaluation
    from orchestration.retrain import register as register_retrain
    from orchestration.up import register as register_up
    from serving.cli import register as register_serving
    from review.cli import register as register_review
    from training.cli import register as register_training
    from orchestration.score_cli import register as register_score

    register_training(app)
    register_evaluation(app)
    register_serving(app)
    register_review(app)
    register_retrain(app)
    register_up(app)
    register_score(app)


_register_stages()

if __name__ == "__main__":
    app()
