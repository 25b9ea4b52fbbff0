"""The model kinds the platform trains, gates and serves, declared once.

Evaluate, promote, the CLI and the services all need, per kind: the registry name, the primary
metric the gate compares, the quality floor, how to load a model folder, a smoke check, and how
to score a model on dev data. Before, each of them switched on ``kind == "keywords"`` itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.core.settings import get_settings


def _load_tagger(path: Path) -> Any:
    from common.keywords.tagger import KeywordTagger

    return KeywordTagger.load(path)


def _load_groups(path: Path) -> Any:
    from common.groups.model import GroupModel

    return GroupModel.load(path)


def _load_linker(path: Path) -> Any:
    from common.linking.linker import ESCOLinker

    return ESCOLinker.load(path)


def _load_occupations(path: Path) -> Any:
    from common.occupations.model import OccupationModel

    return OccupationModel.load(path)


def _smoke_occupations(path: Path) -> None:
    model = _load_occupations(path)
    (res,) = model.analyze(["Software developer"], [[]], top_k=3)
    if not res.occupations:
        raise ValueError("the occupation model ranked no occupation for a title")


def _score_occupations(path: Path, dev: Any) -> dict[str, Any]:
    """The stored figures: the model is measured on held-out occupations when it is built
    (``common.occupations.training``), and dev data of postings does not apply to it."""
    return dict(_load_occupations(path).metrics)


def _smoke_tagger(path: Path) -> None:
    out = _load_tagger(path).extract(["We need Python and SQL skills and good communication."])
    if len(out) != 1 or not isinstance(out[0], list):
        raise ValueError("the tagger returned no result list for one text")


def _smoke_groups(path: Path) -> None:
    out = _load_groups(path).predict(["python programming"], level=2, top_k=3)
    if len(out) != 1 or not out[0]:
        raise ValueError("the group model returned no groups for one skill")


def _smoke_linker(path: Path) -> None:
    out = _load_linker(path).link(["python programming"], top_k=3)
    if len(out) != 1 or not out[0].matches:
        raise ValueError("the linker returned no candidate skills for one phrase")


def _score_linker(path: Path, dev: Any) -> dict[str, Any]:
    from common.linking.evaluate import evaluate_linker

    return evaluate_linker(_load_linker(path), dev)


def _score_tagger(path: Path, dev: Any) -> dict[str, Any]:
    from common.keywords.evaluate import evaluate_tagger, flat_metrics

    return flat_metrics(evaluate_tagger(_load_tagger(path), dev))


def _score_groups(path: Path, dev: Any) -> dict[str, Any]:
    from common.groups.evaluation import evaluate_groups

    return evaluate_groups(_load_groups(path), dev)


OCCUPATION_METRIC = "dev_title.ranker.r_at_1"  # R@1 on pseudo-postings of dev occupations, with titles


@dataclass(frozen=True)
class ModelKind:
    """One kind of model (``keywords``, ``keywords_accurate``, ``groups``, ``linker`` or ``occupations``) and
    what every stage needs to know of it. The two keyword tiers are two kinds: their own registry
    names, floors and gates, one loader and one score."""

    kind: str
    name_setting: str  # the Settings field holding the registry name
    floor_setting: str  # the Settings field holding the quality floor
    primary_metric: str
    load: Callable[[Path], Any]
    smoke_check: Callable[[Path], None]
    score: Callable[[Path, Any], dict[str, Any]]  # (model folder, dev data) -> metrics

    @property
    def registry_name(self) -> str:
        return str(getattr(get_settings(), self.name_setting))

    @property
    def floor(self) -> float:
        return float(getattr(get_settings(), self.floor_setting))


KINDS: dict[str, ModelKind] = {
    "keywords": ModelKind("keywords", "keyword_model_name", "keyword_score_floor", "span_f1",
                          _load_tagger, _smoke_tagger, _score_tagger),
    "keywords_accurate": ModelKind("keywords_accurate", "keyword_accurate_model_name", "keyword_accurate_score_floor",
                                   "span_f1", _load_tagger, _smoke_tagger, _score_tagger),
    "groups": ModelKind("groups", "group_model_name", "group_score_floor", "l2.micro_f1",
                        _load_groups, _smoke_groups, _score_groups),
    "linker": ModelKind("linker", "linker_model_name", "linker_score_floor", "r_at_1",
                        _load_linker, _smoke_linker, _score_linker),
    "occupations": ModelKind("occupations", "occupation_model_name", "occupation_score_floor", OCCUPATION_METRIC,
                             _load_occupations, _smoke_occupations, _score_occupations),
}


def model_kind(kind: str) -> ModelKind:
    """The declared kind; an unknown one is a ``ValueError`` naming the known ones."""
    try:
        return KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown model kind {kind!r}; use {' or '.join(KINDS)}") from None


# the file in a model folder that carries the metrics its training measured
_METRICS_FILE = {"keywords": "tagger.json", "keywords_accurate": "tagger.json", "groups": "group_model.json",
                 "linker": "linker.json", "occupations": "occupations.json"}


def stored_metrics(kind: str, folder: Path) -> dict[str, Any]:
    """The dev metrics a training run saved in ``folder`` (``kind``'s own file); a folder without
    them is a ``ValueError`` that names the file."""
    import json

    path = Path(folder) / _METRICS_FILE[model_kind(kind).kind]
    try:
        metrics = json.loads(path.read_text(encoding="utf-8")).get("metrics")
    except (OSError, ValueError) as exc:
        raise ValueError(f"{folder} is not a {kind} model folder: cannot read {path.name} ({exc})") from None
    if not metrics:
        raise ValueError(f"{path} holds no dev metrics: train the model with an evaluation (no --no-eval)")
    return metrics


def register_folder(kind: str, folder: Path, gate: Any = None) -> Any:
    """Put a model trained outside the pipeline (e.g. the accurate tier, hours on a CPU) through
    ``kind``'s gate: smoke check, then its stored dev metrics against the champion's. Returns the
    registry's ``Decision``; a refused folder is not stored."""
    from common import registry
    from common.core.lineage import code_version

    mk = model_kind(kind)
    return registry.register_and_gate(mk.registry_name, Path(folder), stored_metrics(kind, folder), mk.primary_metric,
                                      gate=gate, smoke_check=mk.smoke_check,
                                      metadata={"source": f"registered by hand from {Path(folder).resolve()}",
                                                "code_version": code_version()})
