"""Crowd labels: span and group merging with annotator-reliability models, agreement, training sets."""

from common.core.exports import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "MergeConfig": "crowd",
    "merge_spans": "crowd",
    "merge_groups": "crowd",
    "annotator_quality": "crowd",
    "span_agreement": "crowd",
    "merge_store_labels": "merge",
    "training_sets": "merge",
})
