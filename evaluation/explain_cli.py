"""`withyou explain "text" [--parent …]`: the answer for one post and the words that drove it, coloured (rich).

Red words pushed the answer towards the predicted label (or towards harassing), blue ones away from it; the
number after each span is the drop in probability when its words are removed (withyou/explain.py). Prints to the
terminal only; nothing is logged.
"""

from __future__ import annotations

from typing import Optional

import typer

from withyou.explain import Span, TextExplanation


def highlighted(text: str, spans: list[Span]):
    """`text` as rich Text with each span coloured by the sign of its weight and its weight appended."""
    from rich.text import Text

    out, cursor = Text(), 0
    for span in sorted(spans, key=lambda s: s.start):
        out.append(text[cursor : span.start])
        style = "bold white on red" if span.weight > 0 else "bold white on blue"
        out.append(text[span.start : span.end], style=style)
        out.append(f"{span.weight:+.2f}", style="dim")
        cursor = span.end
    out.append(text[cursor:])
    return out


def render(console, title: str, text: str, spans: TextExplanation, label: str) -> None:
    console.print(f"[bold]{title}[/bold] — towards [bold]{label}[/bold]:")
    console.print(highlighted(text, spans.label))
    if label != "harassing":
        console.print(f"[bold]{title}[/bold] — towards [bold]harassing[/bold]:")
        console.print(highlighted(text, spans.harassing))


def explain_command(
    text: str = typer.Argument(..., help="The post to explain.", show_default=False),
    parent: Optional[str] = typer.Option(None, help="The post it replies to, if any."),
    bundle: str = typer.Option("champion", help="Bundle directory, models:/withyou@ALIAS, or champion / challenger."),
) -> None:
    """Classify one post and show which words drove the label and P(harassing) (leave-one-word-out occlusion)."""
    from rich.console import Console

    from withyou.registry import resolve_bundle
    from withyou.bundle import BundleError, Classifier, Item
    from withyou.explain import explain

    try:
        classifier = Classifier.from_bundle(resolve_bundle(bundle))
    except (BundleError, LookupError, ValueError) as exc:
        typer.secho(f"cannot load the model: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    item = Item(text=text, parent_text=parent)
    (prediction,) = classifier.predict([item])
    (explanation,) = explain(classifier, [item])
    console = Console(highlight=False)
    scores = ", ".join(f"{name} {value:.2f}" for name, value in prediction.scores.items())
    console.print(
        f"[bold]{prediction.label}[/bold] ({scores}) → action [bold]{prediction.action}[/bold]; "
        f"lang {prediction.lang} ({prediction.lang_confidence:.2f})"
        + (f"; {prediction.reason}" if prediction.reason else "")
    )
    render(console, "post", text, explanation.text, explanation.label)
    if explanation.parent_shift is not None:
        shift = explanation.parent_shift
        moved = f"the parent moved P({explanation.label}) by {shift['label']:+.2f}"
        if explanation.label != "harassing":
            moved += f" and P(harassing) by {shift['harassing']:+.2f}"
        console.print(moved)
    if explanation.parent is not None and parent is not None:
        render(console, "parent", parent, explanation.parent, explanation.label)
    if explanation.note:
        console.print(f"[yellow]{explanation.note}[/yellow]", markup=True)
    console.print("[dim]red: pushes towards the label, blue: away; number: probability drop without the words[/dim]")
