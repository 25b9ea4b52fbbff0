"""One base for every per-stage config: typed pydantic fields, loadable from YAML the same way.

Every config forbids unknown keys: a YAML that says ``epoch: 3`` used to train with the default
``epochs`` and say nothing. The error is one sentence naming the file, the unknown key and the
closest valid one (``configs/x.yaml: unknown field 'epoch' (did you mean 'epochs'?)``), so a typo
costs a second instead of a wasted training run.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Self

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError


def encoder_or_default(encoder: str | None) -> str:
    """The encoder folder a config names, else ``settings.encoder_path`` (MiniLM by default)."""
    if encoder:
        return encoder
    from common.core.settings import get_settings

    return get_settings().encoder_path


class StrictModel(BaseModel):
    """A config block: unknown keys are an error, never silently dropped."""

    model_config = ConfigDict(extra="forbid")


class ConfigError(ValueError):
    """A config file or settings value that cannot be used; the message is one sentence."""


def closest(name: str, valid: Iterable[str]) -> str | None:
    """The valid name nearest to a misspelt ``name`` (difflib ratio >= 0.6), or None."""
    found = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.6)
    return found[0] if found else None


def unknown_key_message(where: str, key: str, valid: Iterable[str], noun: str = "field") -> str:
    """``<where>: unknown field 'epoch' (did you mean 'epochs'?)``."""
    near = closest(key, valid)
    hint = f" (did you mean {near!r}?)" if near else f" (valid: {', '.join(sorted(valid))})"
    return f"{where}: unknown {noun} {key!r}{hint}"


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model class that owns the last key of ``loc`` (nested configs, lists, dicts)."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int) or not (isinstance(current, type) and issubclass(current, BaseModel)):
            continue  # a list index or a dict key: the element type is what matters
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        current = _inner_model(field.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _inner_model(annotation: Any) -> Any:
    """The BaseModel inside ``X``, ``X | None``, ``list[X]`` or ``dict[K, X]``, else the annotation."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        inner = _inner_model(arg)
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            return inner
    return annotation


def explain(error: ValidationError, model: type[BaseModel], where: str) -> str:
    """The first problem of a validation error as one sentence about ``where`` (a file or a class)."""
    first = error.errors()[0]
    loc = tuple(first["loc"])
    dotted = ".".join(str(p) for p in loc)
    if first["type"] == "extra_forbidden":
        owner = _model_at(model, loc)
        valid = list(owner.model_fields) if owner else []
        prefix = ".".join(str(p) for p in loc[:-1])
        return unknown_key_message(f"{where}{' [' + prefix + ']' if prefix else ''}", str(loc[-1]), valid)
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "literal_error" and isinstance(first.get("input"), str):
        near = closest(first["input"], re.findall(r"'([^']*)'", str(first.get("ctx", {}).get("expected", ""))))
        msg += f" (did you mean {near!r}?)" if near else ""
    return f"{where}: {dotted or 'value'}: {msg}{more}"


def validate_strict(model: type[BaseModel], data: Mapping[str, Any], where: str) -> Any:
    """``model.model_validate(data)`` with a one-sentence :class:`ConfigError` on failure."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise ConfigError(explain(e, model, where)) from None


def unknown_env_vars(prefix: str, fields: Iterable[str], environ: Mapping[str, str] | None = None,
                     skip: Iterable[str] = ()) -> list[str]:
    """One sentence per ``<prefix>NAME`` variable that names no field (a typo is otherwise ignored).

    ``skip`` holds prefixes of other settings groups (``JOBSKILLS_SERVE_``) and names read
    elsewhere on purpose (the compose file's ``JOBSKILLS_API_IMAGE``).
    """
    environ = os.environ if environ is None else environ
    valid = {f"{prefix}{f.upper()}" for f in fields}
    skip = tuple(skip)
    out = []
    for name in sorted(environ):
        if name.startswith(prefix) and name not in valid and not name.startswith(skip):
            out.append(unknown_key_message("environment", name, valid, noun="variable"))
    return out


class StageConfig(StrictModel):
    """Base of the per-stage configs (``configs/*.yaml``)."""

    # a file may hold this config under this key (e.g. ``topics:``) next to other sections
    yaml_section: ClassVar[str | None] = None

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> Self:
        """Fields from a YAML mapping; keyword ``overrides`` that are not None win over the file."""
        path = Path(path)
        data = read_yaml_mapping(path, cls.__name__)
        if cls.yaml_section and isinstance(data.get(cls.yaml_section), dict):
            data = data[cls.yaml_section]
        data = {**data, **{k: v for k, v in overrides.items() if v is not None}}
        return validate_strict(cls, data, str(path))


def read_yaml_mapping(path: Path, what: str) -> dict[str, Any]:
    """A YAML file's top-level mapping, with one-sentence errors for a missing file or another shape."""
    if not path.exists():
        raise FileNotFoundError(f"{what} file {path} does not exist")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a YAML mapping of {what} fields")
    return data
