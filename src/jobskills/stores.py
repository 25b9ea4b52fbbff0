"""BentoML's local model store as the registry's ``ModelStore`` (``common.registry.store``).

Kept out of the library so that ``common`` never imports BentoML. The store is located from
``BENTOML_HOME`` at every construction (BentoML's own singleton reads it once per process), so
tests and tools can switch homes. The Bento build (``bentoml build``) and the services read the
same folders through ``bentoml.models``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from common.registry.store import StoredModel, StoreError


def bentoml_home() -> Path:
    """``$BENTOML_HOME`` or BentoML's default ``~/bentoml``."""
    return Path(os.path.expanduser(os.environ.get("BENTOML_HOME") or os.path.join("~", "bentoml")))


class BentoMLStore:
    """Model folders in ``<BENTOML_HOME>/models``, as BentoML models with our metadata."""

    def __init__(self, home: Path | None = None) -> None:
        self._home = Path(home) if home is not None else bentoml_home()

    @property
    def home(self) -> Path:
        return self._home

    def _bento(self) -> Any:
        from bentoml._internal.models.model import ModelStore

        path = self._home / "models"
        path.mkdir(parents=True, exist_ok=True)
        return ModelStore(str(path))

    @staticmethod
    def _stored(model: Any) -> StoredModel:
        return StoredModel(tag=str(model.tag), name=model.tag.name, version=model.tag.version or "",
                           path=Path(model.path), metadata=dict(model.info.metadata or {}),
                           created=str(model.info.creation_time))

    def list(self, name: str | None = None) -> list[StoredModel]:
        try:
            models = self._bento().list(name) if name else self._bento().list()
        except Exception:  # noqa: BLE001  (BentoML raises NotFound for a name with no models)
            return []
        return [self._stored(m) for m in models]

    def get(self, tag: str) -> StoredModel:
        try:
            return self._stored(self._bento().get(tag))
        except Exception as exc:  # noqa: BLE001  (NotFound, or a malformed tag)
            raise StoreError(f"no model {tag!r} in the BentoML store at {self._home / 'models'}") from exc

    def save(self, name: str, model_dir: Path, metadata: Mapping[str, Any], labels: Mapping[str, str]) -> StoredModel:
        import bentoml

        with bentoml.models.create(name, labels=dict(labels), metadata=dict(metadata),
                                   _model_store=self._bento()) as ref:
            shutil.copytree(model_dir, ref.path, dirs_exist_ok=True)
        return self.get(str(ref.tag))
