"""``jobskills extract-batch``: a file (or the store) of postings in, Parquet parts out."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from jobskills.cli._util import console, fail, user_errors


def extract_batch_cmd(
    input: Optional[Path] = typer.Argument(None, help="Postings: .jsonl, .csv or .parquet with 'id' and 'text', or a "
                                           "folder of .txt files (id = file name). Leave out with --from-store."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder (keywords/, postings/, quarantine/ parts; "
                                       "default <data_dir>/batch with --from-store)."),
    from_store: bool = typer.Option(False, "--from-store", help="The store's valid postings not yet extracted by the "
                                    "current models; results also go to the store."),
    model: Optional[Path] = typer.Option(None, help="Tagger folder (default: champion, else latest)."),
    linker: Optional[Path] = typer.Option(None, help="ESCO linker folder (default: champion, else latest, if built)."),
    group_model: Optional[Path] = typer.Option(None, help="Group model folder (default: champion, else latest)."),
    occupation_model: Optional[Path] = typer.Option(None, help="Occupation model folder (default: champion, else latest)."),
    links: bool = typer.Option(True, help="ESCO links per keyword."),
    skills: bool = typer.Option(False, help="Each posting's ESCO skills, named by a keyword or implied by a sentence, "
                                "in skills/ parts (needs a linker; every sentence is encoded: a run about 3.5 times slower)."),
    groups: bool = typer.Option(True, help="Group codes per keyword."),
    occupations: bool = typer.Option(True, help="Occupation per posting, importance per keyword."),
    part_size: int = typer.Option(256, min=1, help="Postings per part (the most a crash loses)."),
    limit: Optional[int] = typer.Option(None, min=1, help="Extract at most this many new postings."),
    resume: bool = typer.Option(True, "--resume/--overwrite", help="Skip postings already written (default) or start over."),
    workers: int = typer.Option(1, min=1, help="Processes on a local Dask cluster (1: this process)."),
    dask: Optional[str] = typer.Option(None, "--dask", help="Address of a Dask scheduler (tcp://host:8786) to run on."),
    threads: Optional[int] = typer.Option(None, min=1, help="Torch threads per process."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Keywords (with ESCO links, groups, occupation) of every posting of a file or of the store."""
    from common.batch.config import BatchConfig
    from common.batch.extract import run_batch
    from common.batch.inputs import count_rows, postings_from_store, read_postings
    from common.batch.models import default_paths, load_models
    from common.batch.output import done_state, read_output, reset
    from common.core.settings import get_settings

    if (input is None) == (not from_store):
        raise fail("give an INPUT file or folder, or --from-store (not both)", code=2)
    if input is not None and not input.exists():
        raise fail(f"input {input} does not exist", code=2)
    s = get_settings()
    out_dir = out or (s.data_dir / "batch" if from_store else None)
    if out_dir is None:
        raise fail("--out is required with an input file", code=2)
    cfg = BatchConfig(part_size=part_size, links=links, skills=skills, groups=groups, occupations=occupations,
                      threads=threads)
    with user_errors():
        paths = default_paths(model, linker, group_model, occupation_model, links or skills, groups, occupations)
        if skills and paths.linker is None:
            raise fail("--skills needs an ESCO linker: build one with `jobskills esco build-linker` or pass --linker DIR",
                       code=2)
        if not resume:
            reset(out_dir)
        done = done_state(out_dir)
        if skills and done.posting_ids and not read_output(out_dir, "skills").posting_id.isin(done.posting_ids).any():
            console.print(f"[yellow]{len(done.posting_ids)} postings already done in {out_dir} have no skills rows and "
                          "are skipped; --overwrite ranks their skills too[/yellow]")
        store: Any = None
        on_part = None
        if from_store:
            from common.data.storage import Store

            store = Store.open()
            rows = postings_from_store(store, paths.key, cfg.max_chars or s.max_text_chars)
            total = None
            on_part = store.add_extractions
        else:
            rows = read_postings(input, cfg.max_chars or s.max_text_chars)
            total = count_rows(input)
        console.print("models: " + ", ".join(f"{k} {v or '-'}" for k, v in paths.tags))
        try:
            if workers > 1 or dask:
                summary = _on_dask(rows, out_dir, paths, cfg, done, limit, not quiet, total, workers, dask, on_part)
            else:
                summary = run_batch(rows, out_dir, load_models(paths), cfg, done, limit=limit, progress=not quiet,
                                    total=total, on_part=on_part)
        finally:
            if store is not None:
                store.close()
    d = summary.as_dict()
    found = f"{d['keywords']} keywords" + (f", {d['skills']} ESCO skills" if skills else "")
    console.print(f"{d['extracted']} postings extracted ({found}, {d['words']:,} words, "
                  f"{d['words_per_s']:,.0f} words/s, {d['postings_per_s']} postings/s), {d['skipped_done']} already "
                  f"done, {d['quarantined']} quarantined{' ' + str(d['by_reason']) if d['by_reason'] else ''}, "
                  f"{d['failed']} failed; {d['seconds']:.1f} s -> {out_dir}")


def _on_dask(rows: Any, out_dir: Path, paths: Any, cfg: Any, done: Any, limit: int | None, progress: bool,
             total: int | None, workers: int, address: str | None, on_part: Any) -> Any:
    from distributed import Client, LocalCluster

    from common.batch.parallel import run_on_dask

    if address:
        with Client(address) as client:
            return run_on_dask(client, rows, out_dir, paths, cfg, done, limit, progress, total, on_part=on_part)
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        return run_on_dask(client, rows, out_dir, paths, cfg, done, limit, progress, total, on_part=on_part)


def register(app: typer.Typer) -> None:
    app.command("extract-batch")(extract_batch_cmd)
