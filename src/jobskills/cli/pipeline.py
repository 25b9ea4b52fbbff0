"""Pipeline commands: ``quickstart``, ``retrain``, ``merge-labels``, ``serve-flows``, ``registry ...``.

The data commands (``ingest``, ``validate``, ``data ...``) live in ``cli.pipeline_data`` and are
registered from here too, so the whole pipeline area hangs off one ``register``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Optional

import typer

from jobskills.cli._util import console, fail, say_why_nothing, store_counts, user_errors

registry_app = typer.Typer(
    help="The model registry: list models, promote one, roll back.", no_args_is_help=True
)


def _prefect_defaults() -> None:
    """A first ephemeral Prefect server on a busy 2-core machine can take > 20 s to migrate its DB."""
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    os.environ.setdefault("PREFECT_LOGGING_TO_API_BATCH_INTERVAL", "0.5")


def _print_models(name: Optional[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    from common import registry

    rows = registry.list_models(name)
    table = Table(title=f"models in {registry.store_home() / 'models'}")
    table.add_column("tag", no_wrap=True)
    for col in ("champion", "primary", "data", "code", "created"):
        table.add_column(col)
    for m in rows:
        table.add_row(
            m.tag,
            "*" if m.champion else "",
            f"{m.metadata.get('primary_metric', '')}={m.primary:.4f}" if m.primary is not None else "",
            str(m.metadata.get("data_version", "")),
            str(m.metadata.get("code_version", "")),
            m.created[:19],
        )
    Console().print(table)
    if not rows:
        console.print("no models yet: run `jobskills quickstart` or `jobskills pipeline retrain`")


@registry_app.command("list")
def registry_list(
    name: Optional[str] = typer.Argument(
        None, help="Model name (keyword-tagger, skill-groups); all when omitted."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List stored models, newest first; the champion is starred."""
    from common import registry

    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "tag": m.tag,
                        "champion": m.champion,
                        "path": str(m.path),
                        "metrics": m.metrics,
                        "metadata": m.metadata,
                    }
                    for m in registry.list_models(name)
                ],
                indent=2,
                default=str,
            )
        )
        return
    _print_models(name)


@registry_app.command("promote")
def registry_promote(tag: str = typer.Argument(..., help="name:version of a stored model")) -> None:
    """Make a stored model the champion (a person's decision: no gate)."""
    from common import registry

    with user_errors():
        info = registry.promote(tag)
    typer.echo(f"champion of {info.name} is now {info.tag} ({info.path})")


@registry_app.command("add")
def registry_add(
    folder: Path = typer.Argument(..., help="A trained model folder (e.g. .jobskills/models/keyword-tagger-accurate/latest)."),
    kind: str = typer.Option(..., help="keywords_accurate | keywords | groups | linker | occupations"),
    margin: float = typer.Option(0.005, help="How much the folder's dev figure must beat the champion's by."),
) -> None:
    """Register a model trained outside the pipeline through its kind's gate (smoke check, then its
    stored dev figure against the champion's); it becomes the champion only if it passes."""
    from common.pipeline.kinds import register_folder
    from common.registry import GateConfig

    if not folder.is_dir():
        raise fail(f"{folder} is not a folder", code=2)
    with user_errors():
        decision = register_folder(kind, folder, GateConfig(margin=margin))
    verdict = f"champion is now {decision.tag}" if decision.promoted else "not registered"
    typer.echo(f"{decision.name}: {verdict} ({decision.reason})")
    if not decision.promoted:
        raise typer.Exit(1)


@registry_app.command("rollback")
def registry_rollback(
    name: str = typer.Argument(..., help="Model name, e.g. keyword-tagger or skill-groups"),
) -> None:
    """Restore the previous champion of a model."""
    from common import registry

    with user_errors():
        info = registry.rollback(name)
    typer.echo(f"rolled back {name}: champion is now {info.tag} ({info.path})")


def _summary(out: dict, elapsed: float) -> None:
    from common import registry
    from common.core.settings import get_settings

    from common.pipeline.waiting import after_merge, after_promote

    s = get_settings()
    typer.echo("")
    merge = out.get("merge") or {}
    if not int(merge.get("span_records") or 0) + int(merge.get("group_records") or 0):
        say_why_nothing(after_merge(0, store_counts()))
    say_why_nothing(after_promote(len(out.get("promote") or {})))
    for kind, dec in (out.get("promote") or {}).items():
        verdict = f"promoted {dec['tag']}" if dec["promoted"] else "kept the champion"
        typer.echo(f"{kind:17s} {verdict}: {dec['reason']}")
    typer.echo("")
    typer.echo(f"done in {elapsed:.0f} s. Where to look:")
    for name in (s.keyword_accurate_model_name, s.keyword_model_name, s.group_model_name):
        info = registry.champion(name)
        if info is not None:
            typer.echo(f"  model     {info.tag}  ->  {info.path}")
    typer.echo(f"  registry  jobskills registry list   (BentoML store {registry.store_home() / 'models'})")
    ev = (out.get("evaluate") or {}).get("report_path")
    if ev:
        typer.echo(f"  reports   {ev}")
    merge_rep = ((out.get("merge") or {}).get("reports") or {}).get("report")
    if merge_rep:
        typer.echo(f"            {merge_rep}  (crowd agreement, annotator quality)")
    typer.echo(f"  data      {s.data_dir.resolve()}  (jobskills data status)")
    api = os.environ.get("PREFECT_API_URL")
    if api:
        typer.echo(f"  runs      {api.replace('/api', '')}  (Prefect UI)")
    else:
        home = os.environ.get("PREFECT_HOME", "~/.prefect")
        typer.echo(
            f"  runs      `prefect server start` then http://127.0.0.1:4200/runs  (local database in {home})"
        )
    typer.echo("  serve     jobskills serve   (uses the champions above)")

# Tagger steps for `quickstart --data`: 12 (the sample's budget) leave real postings without a
# single keyword; 200 reach dev span-F1 0.26 and keep the whole run near 3 minutes on 2 cores.
REAL_DATA_STEPS = 200


def quickstart(
    data: Optional[Path] = typer.Option(
        None,
        "--data",
        help="Real data folder (skillspan/, esco/), e.g. ../shared/data; default: the built-in sample.",
    ),
    config: Optional[Path] = typer.Option(
        None, "--config", help="Pipeline YAML; default: configs/quickstart.yaml (tiny budget)."
    ),
    encoder: Optional[str] = typer.Option(
        None, "--encoder", help="Hugging Face model folder for both models; default: MiniLM."
    ),
    data_dir: Optional[Path] = typer.Option(
        None, "--data-dir", help="Where the platform writes (default: JOBSKILLS_DATA_DIR or .jobskills)."
    ),
    steps: Optional[int] = typer.Option(
        None,
        "--steps",
        help="Training steps of the keyword tagger (overrides the config); "
        f"default with --data: {REAL_DATA_STEPS} (dev span-F1 about 0.25, under 3 min on 2 cores).",
    ),
) -> None:
    """Run the whole pipeline (ingest, validate, merge, train, evaluate, promote) with a tiny budget."""
    from common.pipeline.config import PipelineConfig, quickstart_config_path
    from common.data.sample import SAMPLE_DIR
    from common.core.settings import get_settings

    _prefect_defaults()
    if data is not None:
        if not (data / "skillspan" / "train.jsonl").exists():
            raise fail(
                f"{data} has no skillspan/train.jsonl; pass the folder that holds skillspan/ and esco/",
                code=2,
            )
        shared, inbox = data.resolve(), data.resolve() / "skillspan"
    else:
        shared, inbox = SAMPLE_DIR, SAMPLE_DIR / "inbox"
    os.environ["JOBSKILLS_SHARED_DATA_DIR"] = str(shared)
    if data_dir is not None:
        os.environ["JOBSKILLS_DATA_DIR"] = str(data_dir)
    get_settings.cache_clear()
    cfg_path = config or quickstart_config_path()
    with user_errors():
        cfg = PipelineConfig.from_yaml(cfg_path).with_encoder(encoder)
        if steps is None and data is not None and config is None:
            steps = REAL_DATA_STEPS  # the sample's 12 steps find no keyword in real postings (F1 0.0)
        if steps:
            cfg = cfg.model_copy(update={"keywords": cfg.keywords.model_copy(update={"max_steps": steps})})
    console.print(
        f"quickstart: data {shared}, config {cfg_path}, writing to {get_settings().data_dir.resolve()}"
    )
    from flows.retrain import retrain

    t0 = time.perf_counter()
    with user_errors():
        out = retrain(folder=str(inbox), config=cfg, reason="quickstart")
    _summary(out, time.perf_counter() - t0)


def retrain_cmd(
    folder: Optional[Path] = typer.Option(
        None, "--folder", help="Folder of HTML/TXT/JSONL postings and labels to ingest first."
    ),
    url: Optional[list[str]] = typer.Option(None, "--url", help="Posting URL to scrape first (repeatable)."),
    sitemap: Optional[str] = typer.Option(None, "--sitemap", help="Sitemap URL to scrape first."),
    config: Path = typer.Option(
        Path("configs/pipeline.yaml"), "--config", help="Pipeline YAML (stages' configs and gates)."
    ),
    encoder: Optional[str] = typer.Option(
        None, "--encoder", help="Hugging Face model folder for both models."
    ),
    models: Optional[list[str]] = typer.Option(
        None, "--model", help="keywords and/or groups (repeatable); default: both."
    ),
) -> None:
    """Ingest (optional), validate, merge labels, train, evaluate and promote."""
    from flows.retrain import retrain

    _prefect_defaults()
    if not config.exists():
        raise fail(f"config {config} not found", code=2)
    if folder is not None and not folder.is_dir():
        raise fail(f"folder {folder} does not exist", code=2)
    from common.pipeline.kinds import KINDS

    bad = sorted(set(models or []) - set(KINDS))
    if bad:
        raise fail(f"unknown model kind(s) {bad}; use {' or '.join(KINDS)}", code=2)
    t0 = time.perf_counter()
    with user_errors():
        out = retrain(
            folder=str(folder) if folder else None,
            urls=url or None,
            sitemap=sitemap,
            config_path=str(config),
            encoder=encoder,
            models=models or None,
            reason="cli",
        )
    _summary(out, time.perf_counter() - t0)


def merge_labels_cmd(
    no_feedback: bool = typer.Option(False, "--no-feedback", help="Leave user feedback out of the merge."),
    span_method: str = typer.Option("weighted", "--span-method", help="weighted | majority | token_majority"),
    group_method: str = typer.Option("one_coin", "--group-method", help="one_coin | dawid_skene | majority"),
) -> None:
    """Merge the stored labels by annotator (and feedback) into training labels; print agreement."""
    from common.labels.config import MergeConfig
    from flows.merge_labels import merge_labels_flow

    _prefect_defaults()
    with user_errors():
        try:
            cfg = MergeConfig(span_method=span_method, group_method=group_method)
        except Exception as exc:  # pydantic ValidationError -> one sentence
            raise ValueError(
                f"bad merge option: {exc.errors()[0]['msg'] if hasattr(exc, 'errors') else exc}"
            ) from None
        out = merge_labels_flow(config=cfg, include_feedback=not no_feedback)
    typer.echo(
        json.dumps(
            {
                k: out.get(k)
                for k in (
                    "spans",
                    "groups",
                    "feedback",
                    "span_records",
                    "group_records",
                    "data_version",
                    "reports",
                )
                if k in out
            },
            indent=2,
            default=str,
        )
    )
    from common.pipeline.waiting import after_merge

    if not int(out.get("span_records") or 0) + int(out.get("group_records") or 0):
        say_why_nothing(after_merge(0, store_counts()))


def serve_flows(
    config: str = typer.Option(
        "configs/pipeline.yaml", "--config", help="Pipeline YAML used by scheduled retrains."
    ),
    retrain_cron: str = typer.Option("0 3 * * 1", "--retrain-cron"),
    merge_cron: str = typer.Option("0 2 * * *", "--merge-cron"),
    monitor_cron: str = typer.Option(
        "0 * * * *", "--monitor-cron", help="Empty string: no monitor deployment."
    ),
) -> None:
    """Serve the scheduled deployments (retrain weekly, merge nightly, monitor hourly) until stopped."""
    from flows.deployments import serve

    _prefect_defaults()
    serve(
        config_path=config,
        retrain_cron=retrain_cron,
        merge_cron=merge_cron,
        monitor_cron=monitor_cron or None,
    )


def register(app: typer.Typer) -> None:
    """Add this area's commands to ``app`` (and the data commands of ``cli.pipeline_data``)."""
    from jobskills.cli import pipeline_data
    from jobskills.cli._util import area

    app.command("quickstart")(quickstart)  # the front door: the whole pipeline on the built-in sample
    area(app, "pipeline", "The pipeline's stages: ingest, validate, merge labels, retrain, scheduled flows.", {
        "quickstart": (quickstart, None),
        "ingest": (pipeline_data.ingest, "ingest"),
        "validate": (pipeline_data.validate, "validate"),
        "merge-labels": (merge_labels_cmd, "merge-labels"),
        "retrain": (retrain_cmd, "retrain"),
        "serve-flows": (serve_flows, "serve-flows"),
    })
    app.add_typer(registry_app, name="registry")
    pipeline_data.register(app)
