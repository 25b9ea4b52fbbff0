"""Crowd labels: span and group merging with annotator-reliability models, agreement, training sets.

Rooms: ``config`` (merge methods), ``spans`` (span labels by annotator, votes), ``span_merge``
(reliability-weighted span merge), ``quality`` (annotator quality, agreement), ``feedback`` (API
corrections as crowd labels), ``groups`` (group-label merge), ``merge`` (store to training sets).
"""

from common.core.exports import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "MergeConfig": "config",
    "merge_spans": "span_merge",
    "merge_groups": "groups",
    "annotator_quality": "quality",
    "span_agreement": "quality",
    "merge_store_labels": "merge",
    "training_sets": "merge",
})
