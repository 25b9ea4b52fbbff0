"""Figures with their uncertainty: every quoted figure carries a bootstrap 95 % interval.

Why: validation files of 60-75 sentences moved by 3-10 points between choices that did not
carry over to other sentences; a gain inside the interval is not a gain. One helper, so that
the scorecard, the benchmarks and the build metrics compute the interval the same way.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np


def mean_with_interval(values: Sequence[float] | np.ndarray, n_resamples: int = 1000,
                       seed: int = 13) -> tuple[float, list[float]]:
    """The mean of per-item ``values`` and its 95 % percentile-bootstrap interval (scipy),
    each rounded to 4 places; NaN for no items, the value itself for constant items."""
    from scipy.stats import bootstrap

    v = np.asarray(values, dtype=np.float64)
    if len(v) == 0:
        return float("nan"), [float("nan"), float("nan")]
    mean = round(float(v.mean()), 4)
    if len(v) < 2 or np.all(v == v[0]):
        return mean, [mean, mean]
    res = bootstrap((v,), np.mean, confidence_level=0.95, n_resamples=n_resamples, method="percentile",
                    random_state=np.random.default_rng(seed), vectorized=True)
    ci = res.confidence_interval
    return mean, [round(float(ci.low), 4), round(float(ci.high), 4)]


def ratio_with_interval(num: Sequence[float] | np.ndarray, den: Sequence[float] | np.ndarray,
                        n_resamples: int = 1000, seed: int = 13) -> tuple[float, list[float]]:
    """sum(num) / sum(den) over items (e.g. per posting: 2 TP and 2 TP + FP + FN, whose ratio is
    span F1) and its 95 % percentile-bootstrap interval, items resampled in pairs."""
    from scipy.stats import bootstrap

    a, b = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    if len(a) == 0 or b.sum() == 0:
        return float("nan"), [float("nan"), float("nan")]
    value = round(float(a.sum() / b.sum()), 4)
    if len(a) < 2:
        return value, [value, value]

    def ratio(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
        return x.sum(axis=axis) / np.maximum(y.sum(axis=axis), 1e-12)

    res = bootstrap((a, b), ratio, paired=True, confidence_level=0.95, n_resamples=n_resamples, method="percentile",
                    random_state=np.random.default_rng(seed), vectorized=True)
    ci = res.confidence_interval
    return value, [round(float(ci.low), 4), round(float(ci.high), 4)]


def isotonic_map(raw: Sequence[float] | np.ndarray, correct: Sequence[bool] | np.ndarray) -> dict[str, list[float]]:
    """A monotone map from a raw score to the share of items right at that score (scikit-learn's
    isotonic regression), as breakpoints ``{"x": [...], "y": [...]}`` for ``np.interp``: a JSON
    file can hold it and serving needs no scikit-learn object."""
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    iso.fit(np.asarray(raw, dtype=np.float64), np.asarray(correct, dtype=np.float64))
    return {"x": [round(float(v), 6) for v in iso.X_thresholds_], "y": [round(float(v), 4) for v in iso.y_thresholds_]}


def calibration_table(confidence: Sequence[float] | np.ndarray, correct: Sequence[bool] | np.ndarray,
                      edges: Sequence[float] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0001)) -> list[dict[str, float]]:
    """Per confidence bin: how many items, their mean confidence and the share right (a
    reliability table; a calibrated score has the two close in every bin)."""
    conf = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct, dtype=np.float64)
    rows = []
    for lo, hi in itertools.pairwise(edges):
        m = (conf >= lo) & (conf < hi)
        if m.any():
            rows.append({"bin": f"{lo:.1f}-{min(hi, 1.0):.1f}", "n": int(m.sum()),
                         "mean_confidence": round(float(conf[m].mean()), 4), "share_right": round(float(ok[m].mean()), 4)})
    return rows
