"""Which model folder a service loads: an explicit folder, a named tag, or the registry champion.

The services reference their model at class scope as ``bentoml.models.BentoModel(tag)`` so that
``bentoml build`` packs it into the Bento; the folder to load is still looked up through
``common.registry`` (the only module that knows how a model sits in the store), with the
BentoModel's own store path as the fallback inside a built Bento. A missing model is not a crash:
the service starts, ``/readyz`` says 503 and the reason, and ``/reload`` picks the model up once it
is promoted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.registry import folder_metadata

logger = logging.getLogger("bentoml.jobskills")  # under "bentoml": bentoml serve prints its INFO lines


@dataclass(frozen=True)
class ModelSource:
    """Where a served model comes from; ``path`` is None when nothing can be served (``error`` says why)."""

    name: str
    tag: str | None
    path: Path | None
    error: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)

    def describe(self, floor: float, tier: str | None = None) -> dict[str, Any]:
        """Name, tag, path, error, and the model's dev score against ``floor`` (``model`` key)."""
        from common.registry import model_quality

        quality = model_quality(self.tag, self.metadata, floor, tier=tier) if self.path else None
        return {"name": self.name, "tag": self.tag, "path": str(self.path) if self.path else None,
                "error": self.error, "model": quality.as_dict() if quality else None}


def champion_tag(name: str) -> str | None:
    """Tag of the registry champion ``name``, or None when there is none (or no registry yet)."""
    try:
        from common import registry

        info = registry.champion(name)
    except Exception as exc:  # noqa: BLE001  (a broken or empty store must not stop the service starting)
        logger.warning("registry lookup for %s failed: %s", name, exc)
        return None
    return str(info.tag) if info is not None else None


def class_model_ref(name: str, tag: str | None, folder: Path | None) -> Any:
    """The ``BentoModel`` to put at service class scope, or None when a folder is served instead."""
    if folder is not None:
        return None
    tag = tag or champion_tag(name)
    if not tag:
        return None
    import bentoml

    return bentoml.models.BentoModel(tag)


def _stored(name: str, tag: str) -> Any:
    """The registry's ``ModelInfo`` of ``tag``, or None."""
    try:
        from common import registry

        return registry.get_model(tag)
    except Exception as exc:  # noqa: BLE001  (unknown tag or unreadable store: reported, not raised)
        logger.warning("registry lookup of %s (%s) failed: %s", tag, name, exc)
    return None


def resolve(name: str, folder: Path | None, tag: str | None, ref: Any = None, champion: bool = False) -> ModelSource:
    """Decide which folder to load.

    Order: an explicit ``folder``; an explicit ``tag``; the registry champion (always when
    ``champion`` is true, as on ``/reload``); the class-scope ``ref`` (inside a built Bento).
    """
    if folder is not None:
        folder = Path(folder)
        if not folder.is_dir():
            return ModelSource(name, None, None, f"model folder {folder} does not exist")
        return ModelSource(name, f"dir:{folder.name}", folder, metadata=folder_metadata(folder))
    if tag and not champion:
        info = _stored(name, tag)
        if info is not None:
            return ModelSource(name, tag, Path(info.path), metadata=dict(info.metadata))
        if ref is not None and ref.stored is not None:
            return ModelSource(name, tag, Path(ref.stored.path), metadata=dict(ref.stored.info.metadata or {}))
        return ModelSource(name, tag, None, f"model {tag} is not in the BentoML model store")
    try:
        from common import registry

        info = registry.champion(name)
    except Exception as exc:  # noqa: BLE001  (as above)
        info = None
        logger.warning("registry lookup for %s failed: %s", name, exc)
    if info is not None:
        return ModelSource(name, str(info.tag), Path(info.path), metadata=dict(info.metadata))
    if ref is not None and ref.stored is not None:
        return ModelSource(name, str(ref.stored.tag), Path(ref.stored.path),
                           metadata=dict(ref.stored.info.metadata or {}))
    return ModelSource(
        name, None, None, f"no champion model named {name!r} in the registry; train and promote one first"
    )


@dataclass(frozen=True)
class Loaded:
    """What ``load_model`` got: the model (None when nothing could be loaded) and its source,
    whose ``error`` says why when the model is None."""

    model: Any
    source: ModelSource
    seconds: float = 0.0

    def served_after(self, current: Any, current_source: ModelSource) -> tuple[Any, ModelSource]:
        """What a service serves after this load: the new model; else the model it already serves,
        with that model's source; else nothing, with this load's reason (for ``/status``)."""
        if self.model is not None:
            return self.model, self.source
        return current, current_source if current is not None else self.source


def load_model(name: str, folder: Path | None, tag: str | None, ref: Any, champion: bool,
               load: Callable[[Path], Any], what: str) -> Loaded:
    """Resolve the folder to serve (``resolve``; ``champion`` ignores ``folder``) and load it with
    ``load``, which also warms the model up so that ``/readyz`` says yes only once it answers.

    A missing or broken model is logged and returned as ``Loaded(None, source)``: the service
    keeps serving the model it has, if any, and reports the reason.
    """
    source = resolve(name, None if champion else folder, tag, ref=ref, champion=champion)
    if source.path is None:
        logger.warning("no %s to serve: %s", what, source.error)
        return Loaded(None, source)
    t0 = time.perf_counter()
    try:
        model = load(source.path)
    except Exception as exc:  # a broken folder: keep serving the old model (if any) and say why
        logger.exception("loading the %s from %s failed", what, source.path)
        return Loaded(None, ModelSource(name, source.tag, None, f"loading failed: {exc}"))
    seconds = time.perf_counter() - t0
    logger.info("%s %s loaded from %s in %.1fs", what, source.tag, source.path, seconds)
    return Loaded(model, source, seconds)
