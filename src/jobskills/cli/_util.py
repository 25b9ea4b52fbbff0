"""Small helpers shared by CLI modules: environment defaults, errors as exit codes."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from typing import Any
from contextlib import contextmanager

import typer
from rich.console import Console

console = Console(stderr=True)

OFFLINE_ENV = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "BENTOML_DO_NOT_TRACK": "true",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    # transformers' per-load "Loading weights" bars; our own stages keep their one bar each
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
}


def offline_env() -> None:
    """Switch off phoning home (no network is assumed); explicit user settings win."""
    for k, v in OFFLINE_ENV.items():
        os.environ.setdefault(k, v)


def area(app: typer.Typer, name: str, help: str, commands: dict[str, tuple[Callable[..., Any], str | None]]) -> typer.Typer:
    """Register an area's commands as ``jobskills <name> <command>``.

    ``commands`` maps each new name to its function and the top-level name it had before the CLI
    was grouped by area (``train-keywords`` -> ``keywords train``); the old name stays as a hidden
    alias for one release, so documented commands and scripts keep working.
    """
    sub = typer.Typer(help=help, no_args_is_help=True)
    for new_name, (fn, old_name) in commands.items():
        sub.command(new_name)(fn)
        if old_name:
            app.command(old_name, hidden=True, help=f"Old name of `jobskills {name} {new_name}` (hidden alias).")(fn)
    app.add_typer(sub, name=name)
    return sub


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one clear sentence and return an Exit to raise."""
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn expected errors (missing files/data, bad values) into a sentence and exit code 2."""
    try:
        yield
    except (FileNotFoundError, ValueError, KeyError) as exc:
        msg = exc.args[0] if exc.args else str(exc)
        raise fail(str(msg), code=2) from None


def say_why_nothing(hint: str | None) -> None:
    """A stage that found nothing to do says what is waiting and which command moves it on."""
    if hint:
        console.print(f"[yellow]{hint}[/yellow]", highlight=False, soft_wrap=True)


def store_counts():  # noqa: ANN201 - common.pipeline.waiting.StoreCounts
    """Status counts of the configured store, for the ``say_why_nothing`` hints."""
    from common.data.storage import Store
    from common.pipeline.waiting import store_counts as counts

    with Store.open() as store:
        return counts(store)


def read_text_arg(text: str) -> str:
    """``-`` means read standard input."""
    return sys.stdin.read() if text == "-" else text


def print_quality(quality: object) -> None:
    """Which model answered (tag, tier, dev score) on stderr; a low-quality model in yellow."""
    line = quality.line()  # type: ignore[attr-defined]
    if getattr(quality, "status", None) == "below_floor":
        console.print(f"[yellow]{line}[/yellow]", highlight=False)
    else:
        console.print(line, highlight=False)


def read_phrases(args: list[str] | None) -> list[str]:
    """Skill phrases from arguments (``-`` reads one per line from stdin); none is exit code 2."""
    phrases = [line for a in args or [] for line in read_text_arg(a).splitlines() if line.strip()]
    if not phrases:
        raise fail("give at least one non-empty skill phrase", code=2)
    return phrases
