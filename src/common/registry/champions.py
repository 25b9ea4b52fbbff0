"""Champions and their history behind evaluation gates, over a ``ModelStore``.

This is the only module that writes to the model store (``common.registry.store``; BentoML's
local store by default, implemented outside the library in ``jobskills.stores``). A trained model
folder enters the store only through ``register_and_gate``: it must pass sanity checks (the
folder exists and is not empty, metrics are finite numbers in range, the primary metric reaches
a floor, an optional load-and-predict smoke check succeeds) and beat the current champion's
primary metric by a configured margin. The stored model carries its metrics, data version, code
version and training parameters as metadata.

Which model is *champion* is kept in ``<store home>/jobskills-registry.json`` (per model name:
the current champion tag and the history of earlier champions), written atomically under a
file lock, so it survives processes and follows the store (``BENTOML_HOME`` for the default).
The store is constructed at every call, so tests and tools can switch homes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import math
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common.core.jsonable import to_jsonable

from pydantic import Field

from common.core.config import StrictModel

from common.registry.store import ModelStore, StoredModel, load_store

logger = logging.getLogger(__name__)

STATE_FILE = "jobskills-registry.json"


class RegistryError(ValueError):
    """A registry request that cannot be done (unknown tag, nothing to roll back to)."""


class GateConfig(StrictModel):
    """Promotion gates (YAML-loadable as the ``promote`` stage config)."""

    margin: float = Field(
        0.0, ge=0, description="Candidate must beat the champion's primary metric by more than this."
    )
    min_score: float = Field(0.0, ge=0, description="Floor on the primary metric even without a champion.")
    metric_range: tuple[float, float] = Field(
        (0.0, 1.0),
        description="Every numeric metric named *f1*/*precision*/*recall*/*accuracy* must lie here.",
    )


@dataclass
class ModelInfo:
    """A model in the store."""

    tag: str
    name: str
    version: str
    path: Path
    metrics: dict[str, Any]
    metadata: dict[str, Any]
    created: str
    champion: bool = False

    @property
    def primary(self) -> float | None:
        v = self.metadata.get("primary_value")
        return float(v) if v is not None else None


@dataclass
class Decision:
    """Outcome of a gate: promoted or refused, and why."""

    promoted: bool
    reason: str
    name: str
    candidate: float | None
    champion_before: str | None = None
    champion_value: float | None = None
    tag: str | None = None
    checks: dict[str, bool] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "promoted": self.promoted,
            "reason": self.reason,
            "name": self.name,
            "candidate": self.candidate,
            "champion_before": self.champion_before,
            "champion_value": self.champion_value,
            "tag": self.tag,
            "checks": self.checks,
        }


# --- locations and champion state --------------------------------------------------------------


def _store() -> ModelStore:
    return load_store()


def store_home() -> Path:
    """Folder of the configured model store (``BENTOML_HOME`` for the default BentoML store)."""
    return _store().home


def _state_path() -> Path:
    return store_home() / STATE_FILE


@contextlib.contextmanager
def _locked_state() -> Iterator[dict[str, Any]]:
    """Read-modify-write the champion state under an exclusive lock; written atomically."""
    path = _state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = _read_state()
        yield state
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".registry-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(state, fh, indent=2, sort_keys=True)
        os.replace(tmp, path)


def _read_state() -> dict[str, Any]:
    path = _state_path()
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def _info(model: StoredModel, champion_tag: str | None = None) -> ModelInfo:
    meta = dict(model.metadata)
    return ModelInfo(tag=model.tag, name=model.name, version=model.version, path=model.path,
                     metrics=meta.get("metrics", {}), metadata=meta, created=model.created,
                     champion=model.tag == champion_tag)


# --- queries -----------------------------------------------------------------------------------


def list_models(name: str | None = None) -> list[ModelInfo]:
    """Models in the store (all names, or one), newest first, with the champion flagged."""
    state = _read_state()
    infos = [_info(m, state.get(m.name, {}).get("champion")) for m in _store().list(name)]
    return sorted(infos, key=lambda i: i.created, reverse=True)


def get_model(tag: str) -> ModelInfo:
    """One model by ``name:version``; raises ``RegistryError`` when it is not in the store."""
    try:
        model = _store().get(tag)
    except Exception as exc:
        raise RegistryError(f"no model {tag!r} in the store at {_store().home}") from exc
    return _info(model, _read_state().get(model.name, {}).get("champion"))


def champion(name: str) -> ModelInfo | None:
    """The current champion of ``name`` (``None`` before the first promotion)."""
    tag = _read_state().get(name, {}).get("champion")
    if not tag:
        return None
    try:
        return get_model(tag)
    except RegistryError:
        return None


def champion_path(name: str) -> Path:
    """Folder of the champion model (loadable by ``KeywordTagger.load`` / ``GroupModel.load``)."""
    info = champion(name)
    if info is None:
        raise FileNotFoundError(
            f"no champion for model {name!r} in {store_home()}; "
            "run `jobskills quickstart` or `jobskills pipeline retrain`"
        )
    return info.path


# --- what answered, and how good it is ---------------------------------------------------------


@dataclass(frozen=True)
class ModelQuality:
    """Which model answered and its dev score against the quality floor (shown by CLI and API).

    A champion is only the best model promoted so far; the quickstart's 200-step tagger is a
    champion too. Users must see when what answers them is below a usable level.
    """

    tag: str | None
    tier: str | None
    metric: str | None
    score: float | None
    floor: float

    @property
    def status(self) -> str:
        """``ok``, ``below_floor`` or ``unknown`` (no dev score recorded for this model)."""
        if self.score is None:
            return "unknown"
        return "below_floor" if self.score < self.floor else "ok"

    @property
    def warning(self) -> str | None:
        if self.status == "below_floor":
            return (f"{self.tag} scores {self.metric}={self.score:.3f} on dev, below the quality floor "
                    f"{self.floor:.2f}: its answers are not reliable; train and promote a better model")
        if self.status == "unknown":
            return f"{self.tag or 'this model'} has no recorded dev score"
        return None

    def as_dict(self) -> dict[str, Any]:
        return {"tag": self.tag, "tier": self.tier, "metric": self.metric, "score": self.score,
                "floor": self.floor, "quality": self.status, "warning": self.warning}

    def line(self) -> str:
        """One line for a terminal: ``model keyword-tagger:abc (fast), dev span_f1 0.43``."""
        tier = f" ({self.tier} tier)" if self.tier else ""
        score = f", dev {self.metric} {self.score:.3f}" if self.score is not None else ", no dev score"
        flag = f"  LOW QUALITY: below the floor {self.floor:.2f}" if self.status == "below_floor" else ""
        return f"model {self.tag}{tier}{score}{flag}"


def folder_metadata(folder: Path) -> dict[str, Any]:
    """Registry-style metadata (primary metric and value) for a model folder outside the store,
    from the dev report a training run left in it (``report.json``; a linker's ``linker.json``; an
    occupation model's ``occupations.json``); empty when there is none."""
    occupations = Path(folder) / "occupations.json"
    if occupations.exists():
        try:
            r1 = json.loads(occupations.read_text(encoding="utf-8"))["metrics"]["dev_title"]["ranker"]["r_at_1"]
            return {"primary_metric": "dev_title.ranker.r_at_1", "primary_value": float(r1)}
        except (OSError, ValueError, KeyError, TypeError):
            return {}
    linker = Path(folder) / "linker.json"
    if linker.exists():
        try:
            r1 = json.loads(linker.read_text(encoding="utf-8"))["metrics"]["r_at_1"]
            return {"primary_metric": "r_at_1", "primary_value": float(r1)}
        except (OSError, ValueError, KeyError, TypeError):
            return {}
    report = Path(folder) / "report.json"
    try:
        f1 = json.loads(report.read_text(encoding="utf-8"))["span"]["overall"]["f1"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {"primary_metric": "span.overall.f1", "primary_value": float(f1)}


def quality_of(name: str, model_dir: Path, floor: float, tier: str | None = None) -> ModelQuality:
    """The ``ModelQuality`` of the folder a command is about to use: the champion's registry
    record when ``model_dir`` is the champion, else what the folder itself records."""
    try:
        current = champion(name)
    except Exception:  # noqa: BLE001  (an unreadable store: describe the folder alone)
        current = None
    if current is not None and Path(current.path).resolve() == Path(model_dir).resolve():
        return model_quality(current.tag, current.metadata, floor, tier=tier)
    return model_quality(f"dir:{Path(model_dir).resolve().name}", folder_metadata(model_dir), floor, tier=tier)


def model_quality(tag: str | None, metadata: Mapping[str, Any] | None, floor: float,
                  tier: str | None = None) -> ModelQuality:
    """The ``ModelQuality`` of a stored model from its registry metadata (primary metric)."""
    meta = metadata or {}
    value = meta.get("primary_value")
    return ModelQuality(tag=tag, tier=tier or meta.get("tier"), metric=meta.get("primary_metric"),
                        score=float(value) if value is not None else None, floor=floor)


def champion_or_latest(name: str, latest: Path) -> Path:
    """The folder to use when none is named: the champion of ``name``, else ``latest`` (a trained
    but unregistered model). A broken or empty store falls back to ``latest`` with a debug line."""
    try:
        info = champion(name)
    except Exception as exc:  # noqa: BLE001  (a broken or empty store must not hide the local model)
        logger.debug("no champion for %s from the registry: %s", name, exc)
        info = None
    return Path(info.path) if info is not None else Path(latest)


# --- gates ------------------------------------------------------------------------------------


def metric_value(metrics: Mapping[str, Any], path: str) -> float:
    """Look up a dotted path (``span.overall.f1``) in nested metrics."""
    cur: Any = metrics
    for part in path.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            raise KeyError(f"metric {path!r} not found in the evaluation report")
        cur = cur[part]
    return float(cur)


def _numbers(metrics: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for k, v in metrics.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            yield from _numbers(v, key + ".")
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            yield key, v


def sanity_checks(
    model_dir: Path,
    metrics: Mapping[str, Any],
    primary_metric: str,
    gate: GateConfig,
    smoke_check: Callable[[Path], None] | None = None,
) -> tuple[dict[str, bool], list[str]]:
    """The checks every candidate must pass whatever the champion; returns (checks, problems)."""
    checks: dict[str, bool] = {}
    problems: list[str] = []
    model_dir = Path(model_dir)
    checks["model_dir"] = model_dir.is_dir() and any(model_dir.iterdir())
    if not checks["model_dir"]:
        problems.append(f"model folder {model_dir} is missing or empty")
    bad = [k for k, v in _numbers(metrics) if not math.isfinite(float(v))]
    lo, hi = gate.metric_range
    scored = ("f1", "precision", "recall", "accuracy")
    out = [
        k
        for k, v in _numbers(metrics)
        if k.rsplit(".", 1)[-1] in scored and math.isfinite(v) and not lo <= v <= hi
    ]
    checks["metrics_finite"] = not bad
    checks["metrics_in_range"] = not out
    if bad:
        problems.append(f"metrics not finite: {', '.join(bad[:5])}")
    if out:
        problems.append(f"metrics out of range {gate.metric_range}: {', '.join(out[:5])}")
    try:
        value = metric_value(metrics, primary_metric)
        checks["primary_present"] = True
        checks["min_score"] = value >= gate.min_score
        if value < gate.min_score:
            problems.append(f"{primary_metric}={value:.4f} is below the floor {gate.min_score}")
    except (KeyError, TypeError, ValueError) as exc:
        checks["primary_present"] = False
        problems.append(str(exc))
    if smoke_check is not None and checks["model_dir"]:
        try:
            smoke_check(model_dir)
            checks["smoke"] = True
        except Exception as exc:  # any failure to load or predict refuses the model
            checks["smoke"] = False
            problems.append(f"smoke check failed: {type(exc).__name__}: {exc}")
    return checks, problems


def register_and_gate(
    name: str,
    model_dir: Path,
    metrics: Mapping[str, Any],
    primary_metric: str,
    margin: float | None = None,
    metadata: Mapping[str, Any] | None = None,
    gate: GateConfig | None = None,
    smoke_check: Callable[[Path], None] | None = None,
    champion_metrics: Mapping[str, Any] | None = None,
) -> Decision:
    """Save ``model_dir`` as a new champion of ``name`` only if it passes the gates.

    ``metadata`` should hold ``data_version``, ``code_version`` and ``params`` (see
    ``common.core.lineage``); metrics and the gate outcome are added. A refused candidate is not
    stored at all, so the store only ever holds models that were champion at some point.
    ``champion_metrics``: the champion re-evaluated on the candidate's dev data (the fair
    comparison when the dev set has changed); without it the champion's stored metrics count.
    """
    gate = gate or GateConfig()
    if margin is not None:
        gate = gate.model_copy(update={"margin": margin})
    checks, problems = sanity_checks(Path(model_dir), metrics, primary_metric, gate, smoke_check)
    value = metric_value(metrics, primary_metric) if checks.get("primary_present") else None
    current = champion(name)
    cur_value = None
    if current is not None:
        try:
            cur_value = metric_value(
                champion_metrics if champion_metrics is not None else current.metrics, primary_metric
            )
        except KeyError:
            cur_value = current.primary
    decision = Decision(False, "", name, value, current.tag if current else None, cur_value, checks=checks)
    if problems:
        decision.reason = "sanity checks failed: " + "; ".join(problems)
        return decision
    assert value is not None
    if cur_value is not None and not (value > cur_value and value - cur_value >= gate.margin):
        decision.reason = (
            f"{primary_metric}={value:.4f} does not beat champion {current.tag} ({cur_value:.4f}) "
            f"by the margin {gate.margin}"
        )
        return decision

    meta = to_jsonable(
        {
            **dict(metadata or {}),
            "metrics": to_jsonable(dict(metrics), drop_none=True),
            "primary_metric": primary_metric,
            "primary_value": value,
            "previous_champion": current.tag if current else None,
            "gate": {"margin": gate.margin, "min_score": gate.min_score, "checks": checks},
            "registered_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
        drop_none=True,
    )
    tag = _save(name, Path(model_dir), meta)
    _set_champion(name, tag)
    decision.promoted = True
    decision.tag = tag
    decision.reason = (
        f"first champion ({primary_metric}={value:.4f})"
        if current is None
        else f"{primary_metric}={value:.4f} beats {current.tag} ({cur_value:.4f}) by >= {gate.margin}"
    )
    return decision


def _save(name: str, model_dir: Path, metadata: dict[str, Any]) -> str:
    return _store().save(name, model_dir, metadata, {"project": "jobskills", "kind": name}).tag


def _set_champion(name: str, tag: str) -> None:
    with _locked_state() as state:
        entry = state.setdefault(name, {"champion": None, "history": []})
        if entry.get("champion") and entry["champion"] != tag:
            entry["history"].append(entry["champion"])
        entry["champion"] = tag
        entry.setdefault("events", []).append(
            {"ts": datetime.now(UTC).isoformat(timespec="seconds"), "champion": tag}
        )


def promote(tag: str) -> ModelInfo:
    """Make a stored model champion by hand (no gate: a person decided); returns it."""
    info = get_model(tag)
    _set_champion(info.name, info.tag)
    return get_model(info.tag)


def rollback(name: str) -> ModelInfo:
    """Restore the previous champion of ``name`` (the current one is kept in the store)."""
    with _locked_state() as state:
        entry = state.get(name) or {}
        history = list(entry.get("history") or [])
        store = _store()
        while history:
            prev = history.pop()
            try:
                store.get(prev)
            except Exception:
                continue  # deleted from the store by hand: skip it
            entry["history"] = history
            entry["champion"] = prev
            entry.setdefault("events", []).append(
                {"ts": datetime.now(UTC).isoformat(timespec="seconds"), "champion": prev, "rollback": True}
            )
            state[name] = entry
            break
        else:
            raise RegistryError(f"model {name!r} has no earlier champion to roll back to")
    return get_model(prev)
