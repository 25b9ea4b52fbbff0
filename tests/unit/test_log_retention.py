"""Request-log retention: closed days gzipped and still read, pruning by age and size, leases
that keep a running reader's files, hashed inputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from common.data.log_retention import compress_closed, hold, log_files, prune
from common.data.request_log import iter_jsonl

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _write(d: Path, days_ago: int, n: int = 3, pid: int = 111, size: int = 200) -> Path:
    day = (NOW - timedelta(days=days_ago)).date()
    path = d / f"requests-{day.isoformat()}-{pid}.jsonl"
    with path.open("a", encoding="utf-8") as fh:
        for i in range(n):
            ts = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(minutes=i)
            fh.write(json.dumps({"ts": ts.isoformat(), "endpoint": "extract", "input": {"text": "x" * size},
                                 "output": {"keywords": []}, "n": i, "day": days_ago}) + "\n")
    return path


def test_closed_days_are_gzipped_and_still_read(tmp_path):
    for days in (3, 1, 0):
        _write(tmp_path, days)
    before = list(iter_jsonl(tmp_path, "requests"))
    done = compress_closed(tmp_path, "requests", now=NOW)
    assert len(done) == 2 and all(p.suffix == ".gz" for p in done)
    files = log_files(tmp_path, "requests")
    assert [f.compressed for f in files] == [True, True, False]  # today's file is still being written
    assert list(iter_jsonl(tmp_path, "requests")) == before  # same records, same order
    assert sum(f.size for f in files) < 9 * 200  # compressed


def test_a_day_is_closed_only_after_the_grace_period(tmp_path):
    _write(tmp_path, 1)
    just_after_midnight = datetime.combine(NOW.date(), datetime.min.time(), tzinfo=UTC) + timedelta(minutes=2)
    assert compress_closed(tmp_path, "requests", now=just_after_midnight) == []
    assert len(compress_closed(tmp_path, "requests", now=just_after_midnight + timedelta(minutes=10))) == 1


def test_prune_by_age_then_by_size_oldest_first(tmp_path):
    for days in (30, 20, 10, 5, 2, 0):
        _write(tmp_path, days, size=2000)
    rep = prune(tmp_path, "requests", max_age_days=14, max_mb=1000, now=NOW, compress=False)
    assert sorted(p.name[9:19] for p in rep.deleted) == [(NOW - timedelta(days=d)).date().isoformat() for d in (30, 20)]
    left = log_files(tmp_path, "requests")
    one = left[0].size
    rep = prune(tmp_path, "requests", max_age_days=14, max_mb=(2.5 * one) / 1e6, now=NOW, compress=False)
    days = [f.day for f in log_files(tmp_path, "requests")]
    assert days == [(NOW - timedelta(days=d)).date() for d in (2, 0)]  # oldest went first
    rep = prune(tmp_path, "requests", max_age_days=14, max_mb=1e-9, now=NOW, compress=False)
    assert [f.day for f in log_files(tmp_path, "requests")] == [NOW.date()]  # today's file is never deleted


def test_a_reader_lease_keeps_its_window(tmp_path):
    for days in (20, 10, 5, 0):
        _write(tmp_path, days)
    with hold(tmp_path, NOW - timedelta(days=12)):
        rep = prune(tmp_path, "requests", max_age_days=3, max_mb=1000, now=NOW)
        kept = {f.day for f in log_files(tmp_path, "requests")}
        assert (NOW - timedelta(days=20)).date() not in kept  # older than the lease: pruned
        assert {(NOW - timedelta(days=d)).date() for d in (10, 5, 0)} <= kept and len(rep.held) == 2
        assert sum(1 for r in iter_jsonl(tmp_path, "requests")) == 9  # the reader still sees its window
    prune(tmp_path, "requests", max_age_days=3, max_mb=1000, now=NOW)
    assert [f.day for f in log_files(tmp_path, "requests")] == [NOW.date()]


def test_a_lease_held_by_another_process_is_respected_and_a_dead_ones_is_not(tmp_path):
    for days in (10, 0):
        _write(tmp_path, days)
    code = ("import sys, time; from datetime import date; from pathlib import Path; "
            "from common.data.log_retention import hold\n"
            "with hold(Path(sys.argv[1]), date(2026, 1, 1)):\n    print('held', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        assert proc.stdout.readline().strip() == "held"
        prune(tmp_path, "requests", max_age_days=3, max_mb=1000, now=NOW)
        assert len(log_files(tmp_path, "requests")) == 2
    finally:
        proc.kill()
        proc.wait()
    time.sleep(0.1)
    prune(tmp_path, "requests", max_age_days=3, max_mb=1000, now=NOW)  # the holder died: its lease is stale
    assert len(log_files(tmp_path, "requests")) == 1
    assert not list((tmp_path / ".leases").glob("*.json"))


def test_hashed_inputs_keep_no_text(tmp_path, monkeypatch):
    from common.core.settings import get_settings
    from common.data.request_log import log_request

    monkeypatch.setenv("JOBSKILLS_LOG_INPUTS", "hash")
    get_settings.cache_clear()
    try:
        log_request(tmp_path, "extract", "t:1", 1.0, {"text": "We need Python.", "level": 2}, {"keywords": []})
    finally:
        get_settings.cache_clear()
    (rec,) = iter_jsonl(tmp_path, "requests")
    assert "text" not in rec["input"] and rec["input"]["level"] == 2
    assert rec["input"]["text_chars"] == 15 and len(rec["input"]["text_sha256"]) == 64
    assert "Python" not in json.dumps(rec)


@pytest.mark.parametrize("bad", ["requests-2026-13-01-1.jsonl", "requests-x.jsonl", "other-2026-12-01-1.jsonl"])
def test_foreign_files_are_left_alone(tmp_path, bad):
    (tmp_path / bad).write_text("{}\n")
    prune(tmp_path, "requests", max_age_days=1, max_mb=1e-9, now=NOW)
    assert (tmp_path / bad).exists()
