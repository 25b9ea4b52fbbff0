"""The data store: one folder with a DuckDB database and Parquet exports (PostgreSQL optional).

Why this shape: every pipeline stage reads and writes small tables (raw pages, clean postings,
labels by annotator, merged labels, quarantined rows, run metadata). DuckDB keeps them in one
file with no server to install; ``settings.storage_url = postgresql://...`` moves the same
tables to a shared PostgreSQL server when several machines run flows. Both backends run the
same SQL through a tiny adapter, so the API below does not change.

Guarantees:

* every ``add_*`` call runs in one transaction (all rows or none),
* writes are idempotent: rows whose key already exists are skipped (``insert`` tables) or
  replaced (``upsert`` tables), so re-running a flow on the same input adds nothing twice,
* Parquet exports are written to a temporary file and renamed (readers never see half a file).

Usage::

    with Store.open() as store:
        store.add_postings([PostingRecord(text="...")])
        df = store.postings(status="valid")
"""

from __future__ import annotations

import json
import os
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from pydantic import BaseModel

from common.data.backends import DuckDBBackend, PostgresBackend, StorageError, redact_url
from common.data.records import (
    ExtractedKeyword,
    ExtractedPosting,
    LabelRecord,
    MergedLabelRecord,
    PostingRecord,
    QuarantineRecord,
    RawPage,
    RunRecord,
    sha256,
)

if TYPE_CHECKING:
    from common.core.settings import Settings


def _sql_type(annotation: Any) -> tuple[str, bool]:
    """(SQL type, stored as JSON) of a record field: lists and dicts are JSON text."""
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return _sql_type(args[0])
    if origin in (list, dict) or annotation in (list, dict):
        return "TEXT", True
    if annotation is int:
        return "INTEGER", False
    if annotation is float:
        return "DOUBLE PRECISION", False
    if annotation is datetime:
        return "TIMESTAMP", False
    if annotation is str or origin is typing.Literal:
        return "TEXT", False
    raise TypeError(f"no SQL type for a record field of type {annotation!r}")


@dataclass(frozen=True)
class TableSpec:
    """A table of one record model (``common.data.records``): its columns are the model's fields.

    A column is ``NOT NULL`` when it is part of a key or a required plain field; list and dict
    fields are stored as JSON text. Deriving the columns keeps the table and the record from
    drifting apart (they used to be declared twice).
    """

    name: str
    model: type[BaseModel]
    keys: tuple[tuple[str, ...], ...]  # each tuple is one unique key; a row is "known" if any matches
    mode: str  # "insert" (skip known rows) or "upsert" (replace known rows)
    order_by: str = ""

    @property
    def columns(self) -> tuple[tuple[str, str], ...]:
        key_columns = {c for key in self.keys for c in key}
        out = []
        for field, info in self.model.model_fields.items():
            sql, is_json = _sql_type(info.annotation)
            not_null = field in key_columns or (info.is_required() and not is_json)
            out.append((field, f"{sql} NOT NULL" if not_null else sql))
        return tuple(out)

    @property
    def json_columns(self) -> tuple[str, ...]:
        return tuple(f for f, info in self.model.model_fields.items() if _sql_type(info.annotation)[1])

    @property
    def column_names(self) -> list[str]:
        return list(self.model.model_fields)


TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (
        TableSpec("raw_pages", RawPage, keys=(("url", "content_hash"),), mode="insert", order_by="fetched_at, url"),
        TableSpec("postings", PostingRecord, keys=(("posting_id",), ("content_hash",)), mode="insert",
                  order_by="ingested_at, posting_id"),
        TableSpec("labels", LabelRecord, keys=(("label_id",),), mode="insert", order_by="created_at, label_id"),
        TableSpec("merged_labels", MergedLabelRecord, keys=(("kind", "doc_id", "item"),), mode="upsert",
                  order_by="kind, doc_id, item"),
        TableSpec("quarantine", QuarantineRecord, keys=(("quarantine_id",),), mode="insert",
                  order_by="created_at, quarantine_id"),
        TableSpec("runs", RunRecord, keys=(("run_id",),), mode="upsert", order_by="started_at, run_id"),
        TableSpec("extracted_postings", ExtractedPosting, keys=(("posting_id", "models"),), mode="upsert",
                  order_by="extracted_at, posting_id"),
        TableSpec("extracted_keywords", ExtractedKeyword, keys=(("posting_id", "models", "start", "end", "type"),),
                  mode="upsert", order_by="posting_id, start, \"end\", type"),
    )
}

Rows = pd.DataFrame | Sequence[BaseModel | dict[str, Any]]



# --------------------------------------------------------------------------------------------
# The store
# --------------------------------------------------------------------------------------------


class Store:
    """Tables of the pipeline in DuckDB (default) or PostgreSQL, plus Parquet exports.

    Open with ``Store.open(settings)`` (a context manager closes it) and keep it short-lived:
    a DuckDB file has one writer process at a time, so flows open the store in the one task
    that writes, never across a parallel map.
    """

    def __init__(self, backend: DuckDBBackend | PostgresBackend, data_dir: Path):
        self._db = backend
        self.data_dir = Path(data_dir)
        self._ensure_schema()

    # ---- opening ---------------------------------------------------------------------------
    @classmethod
    def open(cls, settings: Settings | None = None) -> Store:
        """The store configured by ``settings`` (default: ``get_settings()``)."""
        if settings is None:
            from common.core.settings import get_settings

            settings = get_settings()
        url = settings.storage_url
        if url and url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
            backend: DuckDBBackend | PostgresBackend = PostgresBackend(
                url.replace("postgresql+psycopg://", "postgresql://")
            )
        elif url and not url.startswith("duckdb://"):
            raise StorageError(f"unsupported storage_url {redact_url(url)!r}: use postgresql://... or leave it unset")
        else:
            path = Path(url[len("duckdb://") :]) if url else Path(settings.db_path)
            backend = DuckDBBackend(path)
        return cls(backend, settings.data_dir)

    @property
    def backend(self) -> str:
        """``duckdb`` or ``postgresql``."""
        return self._db.kind

    @property
    def location(self) -> str:
        return self._db.location

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ensure_schema(self) -> None:
        with self._db.transaction():
            for spec in TABLES.values():
                cols = ", ".join(f'"{c}" {t}' for c, t in spec.columns)
                pk = ", ".join(f'"{c}"' for c in spec.keys[0])
                self._db.execute(f"CREATE TABLE IF NOT EXISTS {spec.name} ({cols}, PRIMARY KEY ({pk}))")

    # ---- generic write/read ----------------------------------------------------------------
    def _frame(self, spec: TableSpec, rows: Rows) -> pd.DataFrame:
        """Validate rows through the table's model and lay them out as the table's columns."""
        if isinstance(rows, pd.DataFrame):
            records = rows.to_dict(orient="records")
        else:
            records = list(rows)
        out = []
        for r in records:
            if isinstance(r, BaseModel):
                m = r if isinstance(r, spec.model) else spec.model.model_validate(r.model_dump())
            else:
                m = spec.model.model_validate({k: v for k, v in r.items() if not _missing(v)})
            d = m.model_dump()
            for c in spec.json_columns:
                d[c] = json.dumps(d.get(c), ensure_ascii=False, sort_keys=True, default=str)
            out.append({c: d.get(c) for c in spec.column_names})
        df = pd.DataFrame(out, columns=spec.column_names)
        for key in spec.keys:  # duplicates inside one batch: first wins
            df = df.drop_duplicates(subset=list(key), keep="first")
        return df.astype(object).where(df.notna(), None)

    def _write(self, table: str, rows: Rows) -> int:
        """Insert new rows (or replace known ones for upsert tables); returns rows written."""
        spec = TABLES[table]
        df = self._frame(spec, rows)
        if df.empty:
            return 0
        tmp = f"_incoming_{table}"
        cols = ", ".join(f'"{c}"' for c in spec.column_names)
        with self._db.transaction():
            self._db.load_temp(tmp, table, df)
            if spec.mode == "upsert":
                cond = " AND ".join(f't."{c}" = s."{c}"' for c in spec.keys[0])
                self._db.execute(f"DELETE FROM {table} t WHERE EXISTS (SELECT 1 FROM {tmp} s WHERE {cond})")
                where = ""
            else:
                clauses = [
                    "NOT EXISTS (SELECT 1 FROM {t} t WHERE {c})".format(
                        t=table, c=" AND ".join(f't."{k}" = s."{k}"' for k in key)
                    )
                    for key in spec.keys
                ]
                where = " WHERE " + " AND ".join(clauses)
            before = self._db.scalar(f"SELECT COUNT(*) FROM {table}")
            self._db.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {tmp} s{where}")
            after = self._db.scalar(f"SELECT COUNT(*) FROM {table}")
            self._db.execute(f"DROP TABLE IF EXISTS {tmp}")
        return int(after - before) if spec.mode == "insert" else len(df)

    def read(self, table: str, where: dict[str, Any] | None = None, limit: int | None = None) -> pd.DataFrame:
        """All rows of ``table`` matching ``where`` (column -> value or list of values), JSON parsed."""
        spec = TABLES[table]
        clause = self._where(table, where)
        if clause is None:
            return pd.DataFrame(columns=spec.column_names)
        sql = f"SELECT {', '.join(chr(34) + c + chr(34) for c in spec.column_names)} FROM {table}{clause[0]}"
        if spec.order_by:
            sql += " ORDER BY " + spec.order_by
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        df = self._db.fetch_df(sql, clause[1])
        if df.empty:
            return pd.DataFrame(columns=spec.column_names)
        for c in spec.json_columns:
            df[c] = [json.loads(v) if isinstance(v, str) else v for v in df[c]]
        return df.astype(object).where(df.notna(), None)

    def count(self, table: str, where: dict[str, Any] | None = None) -> int:
        """Rows of ``table`` matching ``where`` (same rules as ``read``), counted in SQL."""
        clause = self._where(table, where)
        if clause is None:
            return 0
        return int(self._db.scalar(f"SELECT COUNT(*) FROM {TABLES[table].name}{clause[0]}", clause[1]))

    @staticmethod
    def _where(table: str, where: dict[str, Any] | None) -> tuple[str, list[Any]] | None:
        """`` WHERE ...`` and its parameters for ``where`` (a None value is no condition, a list is
        ``IN``); None when an empty list means no row can match."""
        columns = TABLES[table].column_names
        params: list[Any] = []
        conds = []
        for col, val in (where or {}).items():
            if col not in columns:
                raise KeyError(f"table {table} has no column {col!r}")
            if val is None:
                continue
            if isinstance(val, (list, tuple, set)):
                vals = list(val)
                if not vals:
                    return None
                conds.append(f'"{col}" IN ({", ".join("?" for _ in vals)})')
                params.extend(vals)
            else:
                conds.append(f'"{col}" = ?')
                params.append(val)
        return (" WHERE " + " AND ".join(conds) if conds else ""), params

    # ---- typed helpers ----------------------------------------------------------------------
    def add_raw_pages(self, rows: Rows) -> int:
        """Store fetched HTML; a (url, content_hash) already stored is skipped."""
        return self._write("raw_pages", rows)

    def add_postings(self, rows: Rows) -> int:
        """Store clean postings; a known ``posting_id`` or ``content_hash`` is skipped."""
        return self._write("postings", rows)

    def add_labels(self, rows: Rows) -> int:
        """Store per-annotator labels; (kind, doc_id, item, annotator) already stored is skipped."""
        return self._write("labels", rows)

    def add_merged_labels(self, rows: Rows) -> int:
        """Store merged labels, replacing an earlier merge of the same (kind, doc_id, item)."""
        return self._write("merged_labels", rows)

    def add_quarantine(self, rows: Rows) -> int:
        """Store refused rows with their reason (the same refusal twice is stored once)."""
        return self._write("quarantine", rows)

    def add_extractions(self, postings: Rows, keywords: Rows) -> tuple[int, int]:
        """Store a batch extraction's posting and keyword rows (``common.batch``); a posting
        extracted again by the same models replaces its rows."""
        return self._write("extracted_postings", postings), self._write("extracted_keywords", keywords)

    def record_run(self, run: RunRecord | dict[str, Any]) -> None:
        """Create or update the metadata row of one flow run.

        Updating keeps what an earlier call stored: ``started_at`` stays, ``params`` and
        ``metrics`` are merged (new keys win), so a flow can record at start and at the end.
        """
        rec = run if isinstance(run, RunRecord) else RunRecord.model_validate(run)
        old = self.read("runs", {"run_id": rec.run_id})
        if len(old):
            prev = old.iloc[0]
            rec = rec.model_copy(
                update={
                    "started_at": prev["started_at"] or rec.started_at,
                    "params": {**(prev["params"] or {}), **rec.params},
                    "metrics": {**(prev["metrics"] or {}), **rec.metrics},
                }
            )
        self._write("runs", [rec])

    def raw_pages(self, url: str | list[str] | None = None) -> pd.DataFrame:
        return self.read("raw_pages", {"url": url})

    def postings(self, status: str | list[str] | None = None, source: str | None = None) -> pd.DataFrame:
        return self.read("postings", {"status": status, "source": source})

    def labels(self, kind: str | None = None, status: str | list[str] | None = None) -> pd.DataFrame:
        return self.read("labels", {"kind": kind, "status": status})

    def merged_labels(self, kind: str | None = None) -> pd.DataFrame:
        return self.read("merged_labels", {"kind": kind})

    def quarantine(self, stage: str | None = None) -> pd.DataFrame:
        return self.read("quarantine", {"stage": stage})

    def runs(self, flow: str | None = None) -> pd.DataFrame:
        return self.read("runs", {"flow": flow})

    def set_status(self, table: str, ids: Sequence[str], status: str) -> int:
        """Mark postings/labels (by ``posting_id``/``label_id``) as ``valid`` or ``quarantined``."""
        key = {"postings": "posting_id", "labels": "label_id"}[table]
        ids = list(dict.fromkeys(ids))
        if not ids:
            return 0
        with self._db.transaction():
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                self._db.execute(
                    f'UPDATE {table} SET status = ? WHERE "{key}" IN ({", ".join("?" for _ in chunk)})',
                    [status, *chunk],
                )
        return len(ids)

    def span_postings(self, labels_from: str = "merged", split: str | None = None) -> list:
        """Valid postings with their span labels as ``common.core.types.Posting`` (ready for training).

        ``labels_from="merged"`` reads ``merged_labels`` (kind ``span``); any other value is an
        annotator name (e.g. ``gold``) read from valid rows of ``labels``. Sentences are ordered by
        ``item``; postings without labels are left out.
        """
        from common.core.types import Posting, Sentence

        posts = self.postings(status="valid")
        if split is not None:
            posts = posts[posts["split"] == split]
        if labels_from == "merged":
            labs = self.merged_labels(kind="span")
        else:
            labs = self.read("labels", {"kind": "span", "status": "valid", "annotator": labels_from})
        by_doc: dict[str, list[tuple[int, dict]]] = {}
        for doc_id, item, value in zip(labs["doc_id"], labs["item"], labs["value"], strict=True):
            key = int(item) if str(item).isdigit() else 0
            by_doc.setdefault(doc_id, []).append((key, value))
        out = []
        for pid, source, sp in zip(posts["posting_id"], posts["source"], posts["split"], strict=True):
            if pid not in by_doc:
                continue
            sents = [Sentence(tokens=list(v["tokens"]), tags={k: list(t) for k, t in v["tags"].items()})
                     for _, v in sorted(by_doc[pid], key=lambda x: x[0])]
            out.append(Posting(doc_id=pid, source=source or "", sentences=sents, split=sp or ""))
        return out

    def data_version(self) -> str:
        """A short hash of the valid postings and labels: changes exactly when training data does."""
        p = self._db.fetch_df("SELECT content_hash FROM postings WHERE status = 'valid' ORDER BY content_hash")
        lab = self._db.fetch_df("SELECT label_id FROM labels WHERE status = 'valid' ORDER BY label_id")
        m = self._db.fetch_df("SELECT kind, doc_id, item, value FROM merged_labels ORDER BY kind, doc_id, item")
        blob = "|".join(
            [",".join(p["content_hash"].astype(str)), ",".join(lab["label_id"].astype(str)), m.to_csv(index=False)]
        )
        return sha256(blob)[:12]

    # ---- Parquet ----------------------------------------------------------------------------
    def export_parquet(self, out_dir: Path | None = None, tables: Sequence[str] | None = None) -> dict[str, Path]:
        """Write each table to ``<data_dir>/parquet/<table>.parquet`` atomically; returns the paths."""
        out_dir = Path(out_dir or self.data_dir / "parquet")
        out_dir.mkdir(parents=True, exist_ok=True)
        paths: dict[str, Path] = {}
        for name in tables or TABLES:
            spec = TABLES[name]
            order = f" ORDER BY {spec.order_by}" if spec.order_by else ""
            df = self._db.fetch_df(f"SELECT * FROM {name}{order}")
            for c, t in spec.columns:  # stable dtypes even for empty or all-null columns
                if t.startswith("TIMESTAMP"):
                    df[c] = pd.to_datetime(df[c])
                elif t.startswith("TEXT"):
                    df[c] = df[c].astype("string")
            final = out_dir / f"{name}.parquet"
            tmp = out_dir / f".{name}.parquet.tmp-{os.getpid()}"
            df.to_parquet(tmp, index=False)
            os.replace(tmp, final)
            paths[name] = final
        return paths


def _missing(v: Any) -> bool:
    """True for None/NaN/NaT scalars (not for lists or dicts)."""
    if v is None:
        return True
    if isinstance(v, (list, dict, tuple, str, bytes)):
        return False
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def utc_timestamp(dt: datetime | None) -> str | None:
    """ISO text of a timestamp for reports (None stays None)."""
    return dt.isoformat() if dt else None
