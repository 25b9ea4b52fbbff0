"""Drift monitoring: text descriptors, the drift check, the served-input window, the Evidently workspace."""

from common.core.exports import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "DriftConfig": "drift",
    "DriftResult": "drift",
    "ReferenceProfile": "drift",
    "build_reference": "drift",
    "check_drift": "drift",
    "describe": "descriptors",
    "load_window": "window",
    "log_items": "window",
    "dashboard_panels": "workspace",
    "ensure_reference": "reference",
    "run_check": "reference",
    "reference_dir": "reference",
})
