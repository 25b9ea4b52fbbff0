"""Drift monitoring: text descriptors, the reference profile, the drift check, the served-input window,
the Evidently workspace.

Rooms: ``config`` (what is tested), ``descriptors``, ``embedder``, ``reference`` (the reference
profile), ``drift`` (the check and its result), ``checks`` (one check end to end), ``window``,
``workspace``.
"""

from common.core.exports import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "DriftConfig": "config",
    "DriftResult": "drift",
    "ReferenceProfile": "reference",
    "build_reference": "reference",
    "check_drift": "drift",
    "describe": "descriptors",
    "load_window": "window",
    "log_items": "window",
    "dashboard_panels": "workspace",
    "ensure_reference": "checks",
    "run_check": "checks",
    "reference_dir": "checks",
})
