"""One base for every per-stage config: typed pydantic fields, loadable from YAML the same way.

Before, eight configs each had their own ``from_yaml`` (some checked that the file exists, some
that it holds a mapping, some took overrides, two looked into a section); now every stage loads
its file with the same rules and the same one-sentence errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Self

import yaml
from pydantic import BaseModel


def encoder_or_default(encoder: str | None) -> str:
    """The encoder folder a config names, else ``settings.encoder_path`` (MiniLM by default)."""
    if encoder:
        return encoder
    from common.core.settings import get_settings

    return get_settings().encoder_path


class StageConfig(BaseModel):
    """Base of the per-stage configs (``configs/*.yaml``)."""

    # a file may hold this config under this key (e.g. ``topics:``) next to other sections
    yaml_section: ClassVar[str | None] = None

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> Self:
        """Fields from a YAML mapping; keyword ``overrides`` that are not None win over the file."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{cls.__name__} file {path} does not exist")
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path} must hold a YAML mapping of {cls.__name__} fields")  # noqa: TRY004
        if cls.yaml_section and isinstance(data.get(cls.yaml_section), dict):
            data = data[cls.yaml_section]
        data = {**data, **{k: v for k, v in overrides.items() if v is not None}}
        return cls.model_validate(data)
