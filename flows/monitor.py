"""The scheduled drift monitor: request logs -> drift check -> Evidently workspace -> retrain.

A thin wrapper over ``common.monitoring.checks``: load the window of served postings from
``settings.logs_dir``, make sure the reference profile exists (SkillSpan train with the
champion's predictions), run the check (HTML report, decision JSON, workspace snapshot), and
when drift is found start the ``retrain`` flow — as a sub-flow in local mode, or through
``run_deployment`` when a deployment name is configured — recording why. The new model still
has to pass the retrain flow's evaluation gates to be promoted.

Schedule it with ``jobskills monitor --serve --cron "0 * * * *"`` (or ``deployment()`` in a
``prefect.serve`` call).
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, tags, task
from prefect.artifacts import create_markdown_artifact

from common.core.jsonable import to_jsonable
from common.monitoring.checks import ensure_reference, read_decision, reference_dir, run_check, write_decision
from common.monitoring.config import DriftConfig
from common.monitoring.drift import DriftResult
from common.monitoring.embedder import TextEmbedder
from common.monitoring.reference import ReferenceProfile


def _settings():
    from common.core.settings import get_settings

    return get_settings()


def _config(config_path: str | None, overrides: dict[str, Any] | None) -> DriftConfig:
    cfg = DriftConfig.from_yaml(config_path) if config_path else DriftConfig()
    return cfg.model_copy(update=overrides or {}) if overrides else cfg


@task(name="load-window", cache_policy=None)
def load_window_task(hours: float | None, endpoints: list[str], logs_dir: str | None = None,
                     group_level: int | None = None) -> list[Any]:
    from common.monitoring.window import load_window

    return load_window(Path(logs_dir) if logs_dir else _settings().logs_dir, hours=hours, endpoints=endpoints,
                       group_level=group_level)


@task(name="apply-log-retention", cache_policy=None, retries=1, retry_delay_seconds=5)
def retention_task(logs_dir: str | None, hours: float | None) -> dict[str, Any]:
    """Compress closed days and prune by age and size (``settings.log_retention_*``), keeping the
    window this check is about to read; says when the logs kept are shorter than the window."""
    from datetime import UTC, datetime, timedelta

    from common.data.log_retention import hold, oldest_day, prune

    s = _settings()
    d = Path(logs_dir) if logs_dir else s.logs_dir
    now = datetime.now(UTC)
    since = now - timedelta(hours=hours) if hours is not None else None
    with hold(d, since):
        report = prune(d, "requests", s.log_retention_days, s.log_retention_mb, now=now).as_dict()
    first = oldest_day(d, "requests")
    if since is not None and first is not None and first > since.date():
        report["window_note"] = (f"the request logs kept start on {first.isoformat()}: the window of {hours:g} h "
                                 f"asked from {since.date().isoformat()} is shorter (retention "
                                 f"{s.log_retention_days} days / {s.log_retention_mb:g} MB, or no traffic before)")
    return report


@task(name="reference-profile", cache_policy=None)
def reference_task(cfg: DriftConfig, ref_dir: str | None, rebuild: bool, use_champion: bool) -> ReferenceProfile:
    s = _settings()
    return ensure_reference(cfg, Path(ref_dir) if ref_dir else reference_dir(s.data_dir),
                            data_dir=s.shared_data_dir, rebuild=rebuild, use_champion=use_champion)


@task(name="drift-check", cache_policy=None)
def check_task(window: list[Any], reference: ReferenceProfile, cfg: DriftConfig) -> tuple[DriftResult, str]:
    s = _settings()
    result, out_dir = run_check(window, reference, cfg, s.reports_dir, s.evidently_workspace,
                                embedder=TextEmbedder.from_config(cfg))
    return result, str(out_dir)


def evidence_markdown(result: DriftResult) -> str:
    """The evidence as a Markdown table (a Prefect artifact, and what `jobskills monitor` prints)."""
    lines = [f"**{result.summary()}** — window {result.n_current} postings, reference {result.n_reference}", "",
             "| feature | method | score | threshold | drifted | reference | current | note |",
             "|---|---|---|---|---|---|---|---|"]

    def f(x: float | None) -> str:
        return "" if x is None else f"{x:.4g}"

    for e in result.features:
        lines.append(f"| {e.feature} | {e.method} | {f(e.score)} | {f(e.threshold) or 'bootstrap'} | "
                     f"{'yes' if e.drifted else 'no'} | {f(e.reference_value)} | {f(e.current_value)} | "
                     f"{e.skipped or ''} |")
    lines += [f"\nnote: {n}" for n in result.notes]
    return "\n".join(lines)


def trigger_retrain(reason: str, deployment: str | None, parameters: dict[str, Any] | None) -> dict[str, Any]:
    """Start retraining: a deployment run when ``deployment`` is set, else the flow as a sub-flow.

    ``reason`` is passed on when the retrain flow takes a ``reason`` parameter, so the retrain
    run says why it started.
    """
    params = dict(parameters or {})
    if deployment:
        from prefect.deployments import run_deployment

        params.setdefault("reason", reason)
        fr = run_deployment(name=deployment, parameters=params, timeout=0, tags=["drift"])
        return {"mode": "deployment", "deployment": deployment, "flow_run_id": str(fr.id),
                "state": fr.state.name if fr.state else None}
    from flows.retrain import retrain

    if "reason" in inspect.signature(retrain.fn).parameters:
        params.setdefault("reason", reason)
    with tags("drift"):
        out = retrain(**params)
    return {"mode": "subflow", "result": to_jsonable(out)}


@flow(name="monitor", log_prints=True)
def monitor(
    config_path: str | None = None,
    config_overrides: dict[str, Any] | None = None,
    window_hours: float | None = None,
    logs_dir: str | None = None,
    reference_path: str | None = None,
    rebuild_reference: bool = False,
    use_champion: bool = True,
    trigger: bool = True,
    retrain_deployment: str | None = None,
    retrain_parameters: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One drift check over the recent request logs; starts retraining when drift is found.

    Returns the decision record (also written to ``<reports_dir>/drift/<stamp>/decision.json``).
    """
    log = get_run_logger()
    cfg = _config(config_path, config_overrides)
    hours = cfg.window_hours if window_hours is None else window_hours
    retention = retention_task(logs_dir, hours)
    log.info("log retention: %s", {k: v for k, v in retention.items() if k != "window_note"})
    if retention.get("window_note"):
        log.warning(retention["window_note"])
    from common.data.log_retention import hold

    with hold(Path(logs_dir) if logs_dir else _settings().logs_dir, None):  # nothing is pruned under a check
        window = load_window_task(hours, list(cfg.endpoints), logs_dir, cfg.group_level)
    log.info("window: %d postings from the last %s h", len(window), hours)
    reference = reference_task(cfg, reference_path, rebuild_reference, use_champion)
    result, out_dir = check_task(window, reference, cfg)
    log.info(result.summary())
    for r in result.reasons:
        log.info("  %s", r)
    for n in result.notes:
        log.warning(n)
    create_markdown_artifact(markdown=evidence_markdown(result), key="drift-check",
                             description="Drift evidence of the latest check")
    record = read_decision(Path(out_dir))
    record["retrain"] = None
    if result.drift_detected and trigger:
        reason = "drift detected: " + "; ".join(result.reasons)
        log.warning("starting retraining (%s)", reason)
        try:
            record["retrain"] = {"reason": reason, **trigger_retrain(reason, retrain_deployment, retrain_parameters)}
        except Exception as exc:  # keep the evidence even when retraining fails, then fail the run
            record["retrain"] = {"reason": reason, "error": f"{type(exc).__name__}: {exc}"}
            write_decision(Path(out_dir), record)
            raise
    elif result.drift_detected:
        record["retrain"] = {"skipped": "trigger disabled"}
    record["report_dir"] = out_dir
    record["log_retention"] = retention
    write_decision(Path(out_dir), record)
    return record


def deployment(cron: str = "0 * * * *", **parameters: Any) -> Any:
    """A scheduled deployment of the monitor for ``prefect.serve`` (hourly by default)."""
    return monitor.to_deployment(name="drift-monitor", cron=cron, parameters=parameters, tags=["monitoring"])


if __name__ == "__main__":  # pragma: no cover
    monitor()
