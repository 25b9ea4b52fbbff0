"""``jobskills monitor`` (one drift check now) and ``jobskills dashboard`` (Evidently UI)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from jobskills.cli._util import console, fail, say_why_nothing, user_errors


def monitor_cmd(
    config: Annotated[Path | None, typer.Option(help="Drift config YAML (default: built-in thresholds).")] = None,
    hours: Annotated[float | None, typer.Option(help="Window: postings served in the last HOURS.")] = None,
    logs: Annotated[Path | None, typer.Option(help="Request-log folder (default: settings.logs_dir).")] = None,
    rebuild_reference: Annotated[bool, typer.Option(help="Rebuild the SkillSpan reference profile.")] = False,
    build_reference: Annotated[bool, typer.Option(help="Only build the reference profile, then exit.")] = False,
    gold_reference: Annotated[bool, typer.Option(
        help="Reference predictions from the gold labels instead of the champion tagger.")] = False,
    no_retrain: Annotated[bool, typer.Option("--no-retrain", help="Report drift but do not start retraining.")] = False,
    deployment: Annotated[str | None, typer.Option(
        help="Start retraining as this Prefect deployment (flow/deployment) instead of a sub-flow.")] = None,
    retrain_config: Annotated[Path | None, typer.Option(
        help="Pipeline YAML for the triggered retrain (e.g. configs/quickstart.yaml).")] = None,
    serve: Annotated[bool, typer.Option(help="Serve the monitor as a scheduled Prefect deployment.")] = False,
    cron: Annotated[str, typer.Option(help="Schedule used with --serve.")] = "0 * * * *",
) -> None:
    """Check served postings for drift against the training reference; retrain when drifted.

    Prints the decision and the per-feature evidence; the Evidently report is written under
    the reports folder and the snapshot into the workspace that `jobskills dashboard` shows.
    """
    from jobskills.cli._util import offline_env

    offline_env()
    # The first ephemeral Prefect server on a busy 2-core machine can take > 20 s to start.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    with user_errors():
        from common.monitoring.config import DriftConfig

        cfg = DriftConfig.from_yaml(config) if config else DriftConfig()
        if hours is not None and hours <= 0:
            raise ValueError("--hours must be positive")
        if build_reference:
            from common.monitoring.checks import ensure_reference, reference_dir
            from common.core.settings import get_settings

            s = get_settings()
            with console.status("building the reference profile from SkillSpan train..."):
                prof = ensure_reference(cfg, reference_dir(s.data_dir), s.shared_data_dir, rebuild=True,
                                        use_champion=not gold_reference)
            typer.echo(f"reference profile: {len(prof.descriptors)} postings, predictions from "
                       f"{prof.meta.get('predictions')}, encoder {prof.meta.get('encoder')} -> "
                       f"{reference_dir(s.data_dir)}")
            return
        from flows.monitor import evidence_markdown, monitor

        params = {"config_path": str(config) if config else None, "window_hours": hours,
                  "logs_dir": str(logs) if logs else None, "rebuild_reference": rebuild_reference,
                  "use_champion": not gold_reference, "trigger": not no_retrain,
                  "retrain_deployment": deployment,
                  "retrain_parameters": {"config_path": str(retrain_config)} if retrain_config else None}
        if retrain_config is not None and not retrain_config.exists():
            raise FileNotFoundError(f"retrain config {retrain_config} does not exist")
        if serve:
            typer.echo(f"serving the drift monitor on schedule {cron!r} (Ctrl-C stops)")
            monitor.serve(name="drift-monitor", cron=cron, parameters=params, tags=["monitoring"])
            return
        record = monitor(**params)
    from common.monitoring.drift import DriftResult

    from common.core.settings import get_settings
    from common.monitoring.config import DriftConfig
    from common.pipeline.waiting import empty_window

    window_hours = hours or (DriftConfig.from_yaml(config) if config else DriftConfig()).window_hours

    result = DriftResult.model_validate(record["result"])
    typer.echo(evidence_markdown(result))
    say_why_nothing(empty_window(result.n_current, window_hours, logs or get_settings().logs_dir))
    typer.echo(f"report: {record.get('html') or record.get('report_dir')}")
    typer.echo(retrain_summary(record.get("retrain")))


def retrain_summary(retrain: dict | None) -> str:
    """One line per model of what the triggered retrain did (the full record is in decision.json)."""
    if not retrain:
        return "retrain: not started"
    if "skipped" in retrain:
        return f"retrain: {retrain['skipped']}"
    if "error" in retrain:
        return f"retrain: failed ({retrain['error']})"
    if retrain.get("mode") == "deployment":
        return f"retrain: scheduled deployment {retrain['deployment']} (flow run {retrain['flow_run_id']})"
    lines = ["retrain: ran as a sub-flow"]
    for kind, dec in ((retrain.get("result") or {}).get("promote") or {}).items():
        verdict = f"promoted {dec.get('tag')}" if dec.get("promoted") else "not promoted"
        lines.append(f"  {kind}: {verdict} ({dec.get('reason')})")
    return "\n".join(lines)


def dashboard_cmd(
    host: Annotated[str, typer.Option(help="Bind address (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the Evidently UI.")] = 8000,
    workspace: Annotated[Path | None, typer.Option(help="Workspace folder (default: settings).")] = None,
) -> None:
    """Open the drift dashboard: runs `evidently ui` on the workspace folder."""
    from common.core.settings import get_settings

    ws = workspace or get_settings().evidently_workspace
    if not ws.exists():
        raise fail(f"no Evidently workspace at {ws}; run `jobskills monitor` first", code=2)
    exe = shutil.which("evidently") or str(Path(sys.executable).with_name("evidently"))
    if not Path(exe).exists():
        raise fail("the `evidently` command is not installed in this environment", code=2)
    typer.echo(f"Evidently UI on http://{host}:{port} (workspace {ws}); Ctrl-C stops")
    try:
        rc = subprocess.call([exe, "ui", "--workspace", str(ws), "--host", host, "--port", str(port)],
                             env={**os.environ, "DO_NOT_TRACK": "1"})  # Evidently telemetry off
    except KeyboardInterrupt:
        rc = 0
    raise typer.Exit(rc)


logs_app = typer.Typer(help="The request logs drift monitoring reads: retention.", no_args_is_help=True)


@logs_app.command("prune")
def logs_prune_cmd(
    days: Optional[int] = typer.Option(None, min=1, help="Keep this many days (default JOBSKILLS_LOG_RETENTION_DAYS)."),
    mb: Optional[float] = typer.Option(None, min=0.001, help="Keep at most this many MB (default JOBSKILLS_LOG_RETENTION_MB)."),
) -> None:
    """Gzip closed days, delete logs beyond the retention policy (files a running check holds stay)."""
    from common.core.settings import get_settings
    from common.data.log_retention import prune

    s = get_settings()
    report = prune(s.logs_dir, "requests", days or s.log_retention_days, mb or s.log_retention_mb)
    r = report.as_dict()
    typer.echo(f"{s.logs_dir}: {r['compressed']} file(s) compressed, {r['deleted']} deleted, "
               f"{r['held_for_readers']} kept for a running reader; {r['mb_before']} MB -> {r['mb_after']} MB")


def register(app: typer.Typer) -> None:
    """Add this area's commands to ``app``."""
    app.command("monitor")(monitor_cmd)
    app.command("dashboard")(dashboard_cmd)
    app.add_typer(logs_app, name="logs")
