"""Fixtures shared by unit tests of one area."""

from __future__ import annotations

import pandas as pd
import pytest


@pytest.fixture(scope="session")
def make_annotations(tmp_path_factory):
    """Factory: span -> ESCO annotation rows (``sentence, span, sub_span, label``) -> ``{"val": frame}``,
    written to a CSV and read back by ``load_annotations``, as the Decorte validation files are."""
    from common.linking.evaluate import load_annotations

    def make(rows: list[tuple[str, str, str, str]]) -> dict[str, pd.DataFrame]:
        path = tmp_path_factory.mktemp("ann") / "val.csv"
        pd.DataFrame(rows, columns=["sentence", "span", "sub_span", "label"]).to_csv(path, index=False)
        return {"val": load_annotations(path)}

    return make
