"""Storage backends: the few operations the store needs (execute, fetch, bulk load, transaction),
with the SQL dialect differences between DuckDB and PostgreSQL hidden behind one shape."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd


class StorageError(RuntimeError):
    """The store could not be opened or written (message says which and why)."""



class DuckDBBackend:
    """DuckDB file; `?` placeholders. Written against the duckdb 2.0 API (execute + fetchall/df)."""

    kind = "duckdb"

    def __init__(self, path: Path, lock_timeout_s: float = 30.0):
        import duckdb

        path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + lock_timeout_s
        while True:
            try:
                self.con = duckdb.connect(str(path))
                break
            except duckdb.IOException as exc:  # another process holds the write lock
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise StorageError(f"cannot open the DuckDB store at {path}: {exc}") from exc
                time.sleep(0.2)
        self.location = str(path)

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        self.con.execute(sql, list(params or []))

    def fetch_df(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        return self.con.execute(sql, list(params or [])).df()

    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        rows = self.con.execute(sql, list(params or [])).fetchall()
        return rows[0][0] if rows else None

    def load_temp(self, name: str, like: str, df: pd.DataFrame) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {like} LIMIT 0")
        view = f"_frame_{name}"
        self.con.register(view, df)
        try:
            cols = ", ".join(f'"{c}"' for c in df.columns)
            self.con.execute(f"INSERT INTO {name} ({cols}) SELECT {cols} FROM {view}")
        finally:
            self.con.unregister(view)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def close(self) -> None:
        self.con.close()


class PostgresBackend:
    """PostgreSQL through psycopg 3; the store's `?` placeholders become `%s`."""

    kind = "postgresql"

    def __init__(self, url: str):
        import psycopg

        try:
            self.con = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise StorageError(f"cannot connect to PostgreSQL at {redact_url(url)}: {exc}") from exc
        self.location = redact_url(url)

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("?", "%s")

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        self.con.execute(self._sql(sql), list(params or []) or None)

    def fetch_df(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        with self.con.cursor() as cur:
            cur.execute(self._sql(sql), list(params or []) or None)
            rows = cur.fetchall()
            cols = [d.name for d in cur.description or []]
        return pd.DataFrame(rows, columns=cols)

    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        with self.con.cursor() as cur:
            cur.execute(self._sql(sql), list(params or []) or None)
            row = cur.fetchone()
        return row[0] if row else None

    def load_temp(self, name: str, like: str, df: pd.DataFrame) -> None:
        self.con.execute(f"DROP TABLE IF EXISTS {name}")
        self.con.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM {like} LIMIT 0")
        cols = ", ".join(f'"{c}"' for c in df.columns)
        with self.con.cursor() as cur, cur.copy(f"COPY {name} ({cols}) FROM STDIN") as copy:
            for row in df.itertuples(index=False, name=None):
                copy.write_row([to_python(v) for v in row])

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.con.transaction():
            yield

    def close(self) -> None:
        self.con.close()


def redact_url(url: str) -> str:
    """Hide a password in a connection URL for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url


def to_python(v: Any) -> Any:
    """pandas/numpy scalars -> plain Python values (None for missing)."""
    if v is None:
        return None
    if isinstance(v, pd.Timestamp):
        return None if pd.isna(v) else v.to_pydatetime()
    if isinstance(v, float) and v != v:  # NaN
        return None
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        try:
            return v.item()
        except (ValueError, AttributeError):
            return v
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return v
