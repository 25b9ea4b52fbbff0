"""The models a batch run uses, loaded once per process.

``ModelPaths`` names the folders (by default each kind's registry champion, else its latest
build); ``load_models`` loads them, and ``cached_models`` keeps one loaded set per process, so a
Dask worker that runs many partitions loads the models once, not once per task.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ModelPaths:
    """Folders of the models, and the tag each is known by (the registry tag, or ``dir:<name>``)."""

    keywords: str
    linker: str | None = None
    groups: str | None = None
    occupations: str | None = None
    tags: tuple[tuple[str, str | None], ...] = ()

    @property
    def key(self) -> str:
        """One string naming the models: rows made by other models are not "done" for these."""
        text = ";".join(f"{k}={v}" for k, v in self.tags)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def tag(self, kind: str) -> str | None:
        return dict(self.tags).get(kind)


def _tag(name: str, folder: Path) -> str:
    from common.registry import champion

    try:
        current = champion(name)
    except Exception:  # noqa: BLE001  (an unreadable store: the folder names the model)
        current = None
    if current is not None and Path(current.path).resolve() == folder.resolve():
        return str(current.tag)
    return f"dir:{folder.resolve().name}"


def default_paths(keywords: str | Path | None = None, linker: str | Path | None = None,
                  groups: str | Path | None = None, occupations: str | Path | None = None,
                  use_linker: bool = True, use_groups: bool = True, use_occupations: bool = True) -> ModelPaths:
    """The given folders, else each kind's champion (else latest); optional kinds that were never
    built are left out (their columns stay empty). No keyword model is a FileNotFoundError."""
    from common.core.settings import get_settings
    from common.groups import model as group_model
    from common.keywords import tagger
    from common.linking import linker as linker_mod
    from common.occupations import model as occ_model

    s = get_settings()
    kw = Path(keywords or tagger.default_model_dir())
    if not (kw / "tagger.json").exists():
        raise FileNotFoundError(f"no keyword model at {kw}: train one ('jobskills quickstart' or 'jobskills keywords "
                                "train') or pass --model")
    chosen: dict[str, Path | None] = {"keywords": kw}
    optional = (("linker", linker, use_linker, linker_mod.default_model_dir, "linker.json", s.linker_model_name),
                ("groups", groups, use_groups, group_model.default_model_dir, "group_model.json", s.group_model_name),
                ("occupations", occupations, use_occupations, occ_model.default_model_dir, "occupations.json",
                 s.occupation_model_name))
    names = {"keywords": s.keyword_model_name}
    for kind, given, wanted, default, marker, name in optional:
        folder = Path(given) if given else (default() if wanted else None)
        if given and not (folder / marker).exists():
            raise FileNotFoundError(f"{folder} is not a {kind} model folder (no {marker})")
        chosen[kind] = folder if folder is not None and (folder / marker).exists() else None
        names[kind] = name
    tags = tuple((k, _tag(names[k], p) if p is not None else None) for k, p in chosen.items())
    return ModelPaths(**{k: str(p) if p is not None else None for k, p in chosen.items()}, tags=tags)


@dataclass
class BatchModels:
    paths: ModelPaths
    tagger: Any
    linker: Any = None
    groups: Any = None
    occupations: Any = None


def load_models(paths: ModelPaths, device: str | None = None) -> BatchModels:
    from common.groups.model import GroupModel
    from common.keywords.tagger import KeywordTagger
    from common.linking.linker import ESCOLinker
    from common.occupations.model import OccupationModel

    return BatchModels(
        paths,
        KeywordTagger.load(paths.keywords, device=device),
        ESCOLinker.load(paths.linker, device=device) if paths.linker else None,
        GroupModel.load(paths.groups, device=device) if paths.groups else None,
        OccupationModel.load(paths.occupations, device=device) if paths.occupations else None,
    )


_LOAD_LOCK = threading.Lock()
#: Held while a partition runs through the models: tasks in one process's threads take turns
#: (each uses every torch thread), tasks in separate Dask worker processes do not wait.
RUN_LOCK = threading.Lock()


@functools.lru_cache(maxsize=2)
def _cached(paths: ModelPaths, device: str | None) -> BatchModels:
    return load_models(paths, device)


def cached_models(paths: ModelPaths, device: str | None = None) -> BatchModels:
    """``load_models`` once per process and set of folders (Dask workers reuse it across tasks);
    threads that ask at once wait for the one load."""
    with _LOAD_LOCK:
        return _cached(paths, device)
