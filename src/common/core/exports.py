"""The public face of each library subpackage, loaded on first use.

Each ``common/<area>/__init__.py`` lists what it offers (``__all__``) and where each name lives.
Names are imported when first asked for (PEP 562 ``__getattr__``), so ``import common.groups``
does not pull scikit-learn, XGBoost or torch into a process that only needs a dataclass, and
nothing runs at import.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> tuple[list[str], Callable[[str], Any]]:
    """``(__all__, __getattr__)`` for ``package``: ``exports`` maps a public name to its module."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    return sorted(exports), __getattr__
