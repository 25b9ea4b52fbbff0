"""Library warnings are summarised in one log line where they arise (``common.core.quiet``)."""

from __future__ import annotations

import logging
import warnings

import numpy as np

from common.core.quiet import summarised_warnings


def test_warnings_become_one_line(caplog):
    log = logging.getLogger("test.quiet")
    with caplog.at_level(logging.INFO, logger="test.quiet"), warnings.catch_warnings(record=True) as leaked:
        warnings.simplefilter("always")
        with summarised_warnings("a step", log):
            for _ in range(5):
                warnings.warn("not reaching the requested tolerance\n[1e-05 2e-05 3e-05]", UserWarning)
            warnings.warn("another kind", RuntimeWarning)
    assert not leaked
    (rec,) = caplog.records
    assert rec.getMessage().startswith("a step: 6 library warning(s) summarised: 5x UserWarning: not reaching")
    assert "1e-05" not in rec.getMessage() and "1x RuntimeWarning: another kind" in rec.getMessage()


def test_no_warning_no_line(caplog):
    with caplog.at_level(logging.INFO):
        with summarised_warnings("quiet step", logging.getLogger("test.quiet")):
            pass
    assert not caplog.records


def test_spectral_clustering_prints_no_solver_arrays(caplog):
    """800 points in 8 blobs with 40 clusters: the AMG/lobpcg solver warns (residual arrays) and
    the graph is not connected; none of it leaks, one line says what happened."""
    from common.groups.features import spectral_labels

    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(size=(100, 32)) + rng.normal(size=32) * 3 for _ in range(8)]).astype(np.float32)
    with caplog.at_level(logging.INFO, logger="common.groups.model"), warnings.catch_warnings(record=True) as leaked:
        warnings.simplefilter("always")
        labels = spectral_labels(X, 40, 10, 3000, 0)
    assert not leaked, [str(w.message)[:80] for w in leaked]
    assert len(labels) == len(X) and len(set(labels.tolist())) > 1
    lines = [r.getMessage() for r in caplog.records if "spectral clustering" in r.getMessage()]
    assert len(lines) == 1 and "library warning(s) summarised" in lines[0]
