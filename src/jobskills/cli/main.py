"""``jobskills``: one typer app; each area registers its commands from its own module."""

from __future__ import annotations

import typer

from jobskills.cli import batch, encoders, groups, keywords, linking, monitoring, occupations, pipeline, serving, topics

app = typer.Typer(
    name="jobskills",
    help="Job descriptions to keywords, skills to competency groups, kept fresh.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)



@app.callback()
def _main() -> None:
    """Job descriptions to keywords, skills to competency groups, kept fresh."""
    from jobskills.cli._util import offline_env

    offline_env()


@app.command()
def version() -> None:
    """Print the installed jobskills version."""
    from common import __version__

    typer.echo(__version__)


for _module in (keywords, batch, encoders, groups, linking, occupations, pipeline, serving, monitoring, topics):
    _module.register(app)


if __name__ == "__main__":  # pragma: no cover
    app()
