"""One way to turn results into JSON-ready data (pydantic models, dataclasses, numpy scalars, paths).

Flows hand results to Prefect, services to HTTP, the registry to BentoML metadata; each used to
have its own converter with slightly different rules.
"""

from __future__ import annotations

import dataclasses
from typing import Any


def to_jsonable(obj: Any, drop_none: bool = False) -> Any:
    """``obj`` as dicts, lists, str, int, float, bool and None; anything else as ``str(obj)``.

    ``drop_none`` leaves out None values in dicts and lists (BentoML metadata takes basic types only).
    """
    if hasattr(obj, "model_dump"):
        return to_jsonable(obj.model_dump(mode="json"), drop_none)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(dataclasses.asdict(obj), drop_none)
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v, drop_none) for k, v in obj.items() if not (drop_none and v is None)}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v, drop_none) for v in obj if not (drop_none and v is None)]
    if isinstance(obj, (str, bool, int, float)) or obj is None:
        return obj
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalar
        return obj.item()
    return str(obj)
