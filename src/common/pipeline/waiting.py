"""Why a stage found nothing to do: what is waiting, and the command that moves it on.

Each stage reads only what the stage before it released (ingest stores rows as ``new``, validate
marks them ``valid`` or ``quarantined``, merge reads ``valid`` labels, training reads merged
labels and the real data). A stage that finds nothing used to print zeros and exit 0, so a user
who ingested 7,555 crowd labels and ran ``merge-labels`` saw "merged 0 ... agreement None" with
no clue that the labels were waiting for ``validate``. These functions read the store's status
counts and return one sentence, or None when the stage had work.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

LABEL_KINDS = ("span", "group")


@dataclass(frozen=True)
class StoreCounts:
    """Rows per status: postings, and labels per kind (``span`` / ``group``)."""

    postings: Mapping[str, int] = field(default_factory=dict)
    labels: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    merged: Mapping[str, int] = field(default_factory=dict)

    def labels_with(self, status: str) -> int:
        return sum(by_status.get(status, 0) for by_status in self.labels.values())

    def n_labels(self) -> int:
        return sum(sum(by_status.values()) for by_status in self.labels.values())


STATUSES = ("new", "valid", "quarantined")


def store_counts(store: Any) -> StoreCounts:
    """Status counts of a ``common.data.storage.Store``, counted in SQL (no rows are read)."""
    def nonzero(counts: dict[str, int]) -> dict[str, int]:
        return {k: n for k, n in counts.items() if n}

    postings = nonzero({s: store.count("postings", {"status": s}) for s in STATUSES})
    labels = {k: nonzero({s: store.count("labels", {"kind": k, "status": s}) for s in STATUSES})
              for k in LABEL_KINDS}
    merged = nonzero({k: store.count("merged_labels", {"kind": k}) for k in LABEL_KINDS})
    return StoreCounts(postings, {k: v for k, v in labels.items() if v}, merged)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def after_ingest(found: int, stored: int, source: str) -> str | None:
    """Ingest stored nothing: the source was empty, or everything in it is already stored."""
    if stored:
        return None
    if not found:
        return (f"nothing to ingest: {source} held no postings or labels (a folder needs .html, .txt or "
                ".jsonl files; see docs/pipeline-data.md)")
    return (f"nothing new: the {_plural(found, 'item')} in {source} are already stored (re-runs add nothing "
            "twice); next: `jobskills pipeline validate`")


def after_validate(checked: int, counts: StoreCounts) -> str | None:
    """Validate checked nothing: no row is ``new``."""
    if checked:
        return None
    if not counts.postings and not counts.n_labels():
        return "nothing to validate: the store is empty; add postings and labels with `jobskills pipeline ingest --folder DIR`"
    return ("nothing new to validate: every stored row was checked already (`jobskills pipeline validate --revalidate` "
            "checks them again); next: `jobskills pipeline merge-labels`")


def after_merge(merged: int, counts: StoreCounts) -> str | None:
    """Merge produced nothing: labels are waiting for validation, were quarantined, or do not exist."""
    if merged:
        return None
    waiting = counts.labels_with("new")
    if waiting:
        return (f"merged nothing: {_plural(waiting, 'label')} are waiting for validation; run `jobskills pipeline validate`, "
                "then `jobskills pipeline merge-labels`")
    quarantined = counts.labels_with("quarantined")
    if quarantined and not counts.labels_with("valid"):
        return (f"merged nothing: all {_plural(quarantined, 'label')} were quarantined; see why with "
                "`jobskills data quarantine --stage validate`")
    return ("merged nothing: the store holds no crowd labels; ingest labelled JSONL (with an `annotator` field) "
            "with `jobskills pipeline ingest --folder DIR`, or send corrections to /feedback")


def before_training(n_train_postings: int, counts: StoreCounts) -> str | None:
    """Training has no postings to learn from: say which earlier stage holds them back."""
    if n_train_postings:
        return None
    if counts.labels_with("valid") and not counts.merged.get("span"):
        return ("no training postings: the valid span labels are not merged yet; run `jobskills pipeline merge-labels`, "
                "then `jobskills pipeline retrain`")
    if counts.labels_with("new"):
        return (f"no training postings: {_plural(counts.labels_with('new'), 'label')} are waiting for validation; "
                "run `jobskills pipeline validate`, then `jobskills pipeline merge-labels`")
    return ("no training postings: no merged span labels and no SkillSpan train file under "
            "JOBSKILLS_SHARED_DATA_DIR; ingest labels (`jobskills pipeline ingest --folder DIR`) or point it at ../shared/data")


def after_evaluate(candidates: int) -> str | None:
    """Nothing was scored because no model was trained in this run."""
    if candidates:
        return None
    return ("nothing to evaluate: no candidate model was trained in this run; train one with `jobskills pipeline retrain` "
            "(or `jobskills keywords train`)")


def after_promote(decisions: int) -> str | None:
    """Nothing was put to the gate."""
    if decisions:
        return None
    return ("nothing to promote: no evaluated candidate reached the gate; run `jobskills pipeline retrain`, which trains, "
            "evaluates and promotes")


def empty_window(n_items: int, window_hours: float, logs_dir: Any) -> str | None:
    """The monitor found no served postings to compare with the reference."""
    if n_items:
        return None
    return (f"no served postings in the last {window_hours:g} h under {logs_dir}: the monitor compares what "
            "`jobskills serve` answered with the training data; serve and send postings, or widen window_hours")
