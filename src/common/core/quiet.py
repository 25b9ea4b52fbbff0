"""Library warnings a user cannot act on, caught where they arise and summarised in one line.

scikit-learn's spectral clustering (``lobpcg`` "not reaching the requested tolerance") prints a
numpy array of residuals per call, which buried the training progress bar under a screen of
numbers. The warning says the eigen-solver stopped early, which the cluster-label feature
tolerates; the user can do nothing with it, so it becomes one log line with a count.
"""

from __future__ import annotations

import logging
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager


def _first_line(message: Warning | str, limit: int = 120) -> str:
    text = str(message).strip().splitlines()[0] if str(message).strip() else ""
    return text if len(text) <= limit else text[: limit - 3] + "..."


@contextmanager
def summarised_warnings(what: str, logger: logging.Logger) -> Iterator[None]:
    """Record every warning raised inside the block and log one line summarising them.

    The line names the step (``what``), how many warnings it raised and the distinct first
    lines (at most three, most frequent first); nothing is logged when there were none.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    if not caught:
        return
    kinds = Counter(f"{w.category.__name__}: {_first_line(w.message)}" for w in caught)
    top = "; ".join(f"{n}x {k}" for k, n in kinds.most_common(3))
    more = f" (+{len(kinds) - 3} other kinds)" if len(kinds) > 3 else ""
    # WARNING so that it shows without any logging set up (one line instead of the raw warnings)
    logger.warning("%s: %d library warning(s) summarised: %s%s", what, len(caught), top, more)
