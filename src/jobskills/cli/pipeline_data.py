"""Data commands: ``ingest``, ``validate`` and ``data status|quarantine|export``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from jobskills.cli._util import console, fail, say_why_nothing, store_counts, user_errors

data_app = typer.Typer(help="Look into the data store: counts, quarantined rows, Parquet export.", no_args_is_help=True)


def _print_counts(title: str, counts: dict) -> None:
    from rich.table import Table

    table = Table(title=title)
    table.add_column("what")
    table.add_column("count", justify="right")
    for k, v in counts.items():
        if isinstance(v, dict):
            for kk, vv in v.items():
                table.add_row(f"{k} {kk}", str(vv))
        elif v is not None and not isinstance(v, list):
            table.add_row(k, str(v))
    from rich.console import Console

    Console().print(table)


def ingest(
    urls: Optional[list[str]] = typer.Argument(None, help="Posting page URLs (http/https)."),
    url_file: Optional[Path] = typer.Option(None, "--url-file", help="Text file with one URL per line."),
    sitemap: Optional[str] = typer.Option(None, "--sitemap", help="Sitemap (or sitemap index) URL."),
    folder: Optional[Path] = typer.Option(None, "--folder", help="Folder of .html/.txt/.jsonl files."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="IngestConfig YAML (scrape/extract limits)."),
    min_interval: Optional[float] = typer.Option(None, help="Seconds between requests to one host."),
    no_robots: bool = typer.Option(False, "--no-robots", help="Ignore robots.txt (only for sites you own)."),
    as_json: bool = typer.Option(False, "--json", help="Print the counts as JSON."),
) -> None:
    """Fetch or read postings, extract their text, store new ones (re-runs add nothing twice)."""
    if not (urls or url_file or sitemap or folder):
        raise fail("give URLs, --url-file, --sitemap or --folder", code=2)
    with user_errors():
        from common.data.ingest import IngestConfig

        cfg = IngestConfig.from_yaml(config) if config else IngestConfig()
        if min_interval is not None:
            cfg.scrape.min_interval_s = min_interval
        if no_robots:
            cfg.scrape.obey_robots = False
        if url_file and not url_file.exists():
            raise FileNotFoundError(f"URL file {url_file} does not exist")
        if folder and not folder.is_dir():
            raise FileNotFoundError(f"folder {folder} does not exist")
        from flows.ingest import ingest_flow

        with console.status("ingesting (fetch, extract, store)..."):
            out = ingest_flow(urls=list(urls or []), url_file=str(url_file) if url_file else None,
                              sitemap=sitemap, folder=str(folder) if folder else None, config=cfg)
    if as_json:
        typer.echo(json.dumps(out, indent=1))
    else:
        _print_counts("ingest", {k: v for k, v in out.items() if k != "run_id"})
        typer.echo(f"run {out['run_id']}; quarantined rows: jobskills data quarantine --stage fetch")
    from common.pipeline.waiting import after_ingest

    source = str(folder or sitemap or url_file or ", ".join(urls or []))
    say_why_nothing(after_ingest(sum(out.get(k, 0) for k in ("pages", "postings", "labels")),
                                 sum(out.get(k, 0) for k in ("pages_new", "postings_new", "labels_new")), source))


def validate(
    suite: Optional[list[str]] = typer.Option(None, "--suite", help="postings | span_labels | group_labels (repeat)."),
    revalidate: bool = typer.Option(False, "--revalidate", help="Check every row again, not only new ones."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Run the Great Expectations suites in expectations/ over new rows; quarantine failing rows."""
    from common.data.validation import BlockingValidationError

    with user_errors():
        from flows.validate import validate_flow

        try:
            with console.status("validating..."):
                out = validate_flow(suites=list(suite or []) or None, revalidate=revalidate)
        except BlockingValidationError as exc:
            raise fail(str(exc), code=1) from None
    from common.pipeline.waiting import after_validate

    checked = sum(rep["rows"] for rep in out.values() if isinstance(rep, dict))
    if as_json:
        typer.echo(json.dumps(out, indent=1, default=str))
        if not checked:
            say_why_nothing(after_validate(0, store_counts()))
        return
    from rich.table import Table

    table = Table(title="validate")
    for col in ("suite", "rows", "valid", "quarantined"):
        table.add_column(col, justify="left" if col == "suite" else "right")
    docs = None
    for name, rep in out.items():
        if isinstance(rep, dict):
            table.add_row(name, str(rep["rows"]), str(rep["valid"]), str(rep["quarantined"]))
            docs = rep.get("docs_path") or docs
    from rich.console import Console

    Console().print(table)
    if docs:
        typer.echo(f"Data Docs: {docs}")
    typer.echo(f"data version {out.get('data_version')}")
    if not checked:
        say_why_nothing(after_validate(0, store_counts()))


@data_app.command("status")
def status() -> None:
    """Rows per table and status, quarantine reasons, and where the store is."""
    with user_errors():
        from common.data.storage import TABLES, Store

        with Store.open() as store:
            typer.echo(f"store: {store.backend} at {store.location}")
            counts = {}
            for name in TABLES:
                df = store.read(name)
                if "status" in df.columns and name != "runs" and len(df):
                    counts[name] = df["status"].value_counts().to_dict()
                else:
                    counts[name] = len(df)
            q = store.quarantine()
            reasons = (q["stage"] + ": " + q["reason"]).value_counts().head(15).to_dict() if len(q) else {}
            version = store.data_version()
    _print_counts("data store", {**counts, "quarantine reasons": reasons})
    typer.echo(f"data version {version}")


@data_app.command("quarantine")
def quarantine(
    stage: Optional[str] = typer.Option(None, help="fetch | extract | ingest | validate"),
    limit: int = typer.Option(20, help="Most rows to show."),
) -> None:
    """Show quarantined rows with their stage, reason and failed expectation."""
    with user_errors():
        from common.data.storage import Store

        with Store.open() as store:
            q = store.quarantine(stage=stage)
    if q.empty:
        typer.echo("no quarantined rows")
        return
    for _, r in q.tail(limit).iterrows():
        typer.echo(f"[{r['stage']}] {r['row_key']}: {r['reason']}" + (f"  ({r['expectation']})" if r["expectation"] else ""))
    typer.echo(f"{len(q)} quarantined rows in total")


@data_app.command("export")
def export(out: Optional[Path] = typer.Option(None, help="Folder (default <data_dir>/parquet).")) -> None:
    """Write every table to Parquet (atomically)."""
    with user_errors():
        from common.data.storage import Store

        with Store.open() as store:
            paths = store.export_parquet(out)
    for name, path in paths.items():
        typer.echo(f"{name}: {path}")


def register(app: typer.Typer) -> None:
    """Add the ``data`` group to ``app`` (``ingest`` and ``validate`` are ``jobskills pipeline`` commands)."""
    app.add_typer(data_app, name="data")
