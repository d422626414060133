"""Every default is declared once, in the stage's config: the CLI's defaults and the ones its help text shows must
be that config's, so they cannot drift apart."""

from __future__ import annotations

import re
from dataclasses import fields

import click
import pytest
import typer

from evaluation.config import EvaluationConfig
from orchestration.cli import app
from serving.config import ServingSettings
from training.config import BuildConfig, TrainConfig

SHOWN_DEFAULT = re.compile(r"\[([^\]]+)\]\s*$")
RENAMED = {"threads": "num_threads", "dataset": "dataset_dir", "out": "out_dir"}


def command(*path: str) -> click.Command:
    group = typer.main.get_command(app)
    for name in path:
        group = group.commands[name]
    return group


class Defaults:
    """A pydantic settings class's field defaults, read like a dataclass instance's attributes."""

    def __init__(self, settings_class) -> None:
        self.names = set(settings_class.model_fields)
        for name, field in settings_class.model_fields.items():
            setattr(self, name, field.default)


def field_names(config) -> set[str]:
    return config.names if isinstance(config, Defaults) else {f.name for f in fields(config)}


def options_and_fields(cmd: click.Command, config) -> list[tuple[click.Parameter, str]]:
    names = field_names(config)
    return [(p, RENAMED.get(p.name, p.name)) for p in cmd.params if RENAMED.get(p.name, p.name) in names]


CASES = [
    (("train",), TrainConfig()),
    (("data", "build"), BuildConfig()),
    (("evaluate",), EvaluationConfig()),
    (("serve",), Defaults(ServingSettings)),
]


@pytest.mark.parametrize("path,config", CASES, ids=lambda c: " ".join(c) if isinstance(c, tuple) else "")
def test_option_defaults_are_the_configs(path, config):
    checked = 0
    for param, field_name in options_and_fields(command(*path), config):
        expected = getattr(config, field_name)
        if expected is None:  # a path resolved by withyou/paths.py, or "unset"; its help names where it comes from
            continue
        if param.default is None:  # unset: the config decides; the help text shows that default
            shown = SHOWN_DEFAULT.search(param.help or "")
            if shown:
                assert shown.group(1) == str(expected), f"--{param.name} shows [{shown.group(1)}], config has {expected}"
                checked += 1
        elif not isinstance(param.default, (list, tuple)):
            assert param.default == expected, f"--{param.name} defaults to {param.default}, config has {expected}"
            checked += 1
    assert checked >= 3, f"no option of `withyou {' '.join(path)}` matched a config field"


def test_train_help_shows_the_preset_defaults():
    help_text = " ".join(p.help or "" for p in command("train").params)
    assert f"[{TrainConfig().epochs}]" in help_text and f"[{TrainConfig().learning_rate}]" in help_text
