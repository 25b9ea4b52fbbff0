"""Tried as a new user would: crowd labels ingested, then merged before validation.

``merge-labels`` used to print "merged 0 span sentences" and exit 0; it now names the labels
waiting for ``jobskills pipeline validate``. Real ``jobskills`` processes (flows in the session's Prefect
test server), a real store.
"""

from __future__ import annotations

import shutil

from common.data.sample import SAMPLE_DIR
from test_quickstart import _jobskills


def test_merge_before_validate_names_the_waiting_labels_and_the_command(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(SAMPLE_DIR / "inbox" / "crowd_labels.jsonl", inbox)
    n_labels = sum(1 for line in (inbox / "crowd_labels.jsonl").read_text().splitlines() if line.strip())
    env = {"JOBSKILLS_DATA_DIR": str(tmp_path / "data")}
    ingest = _jobskills(["pipeline", "ingest", "--folder", str(inbox)], env)
    assert ingest.returncode == 0, ingest.stderr[-2000:]
    again = _jobskills(["pipeline", "ingest", "--folder", str(inbox)], env)
    assert "already stored" in again.stderr and "`jobskills pipeline validate`" in again.stderr, again.stderr[-2000:]
    merge = _jobskills(["pipeline", "merge-labels", "--no-feedback"], env)
    assert merge.returncode == 0, merge.stderr[-2000:]
    hint = " ".join(merge.stderr.split())  # rich wraps long lines on stderr
    assert f"{n_labels:,} labels are waiting for validation; run `jobskills pipeline validate`" in hint, merge.stderr[-2000:]
