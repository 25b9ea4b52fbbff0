"""The promote flow: a candidate that passes the gates becomes the served champion.

``common.registry.register_and_gate`` does the work (sanity checks, a load-and-predict smoke
check, beat the champion re-scored on the same dev data by the configured margin); a promoted
model is saved in the BentoML model store with its metrics, data version, code version and
training parameters. A refusal is a normal outcome (the flow succeeds and says why).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task

from common.pipeline.results import TrainedModel, TrainedRun
from common.registry import GateConfig


@task(name="gate-and-register", cache_policy=None)
def gate_and_register(
    kind: str, evaluation: dict[str, Any], trained: TrainedModel, gate: GateConfig
) -> dict[str, Any]:
    from common import registry
    from common.core.lineage import code_version
    from common.pipeline.kinds import model_kind

    mk = model_kind(kind)
    cand = evaluation["candidate"]
    metadata = {
        "data_version": trained.data_version,
        "code_version": code_version(),
        "params": trained.params,
        "train_seconds": trained.seconds,
        "kind": kind,
        "evaluation": {
            "champion": (evaluation.get("champion") or {}).get("tag"),
            "delta": evaluation.get("delta"),
        },
    }
    decision = registry.register_and_gate(
        mk.registry_name,
        Path(cand["model_dir"]),
        cand["metrics"],
        evaluation["primary_metric"],
        gate=gate,
        metadata=metadata,
        smoke_check=mk.smoke_check,
        champion_metrics=(evaluation.get("champion") or {}).get("metrics"),
    )
    return decision.as_dict()


@flow(name="promote", log_prints=True)
def promote_flow(
    evaluation: dict[str, Any],
    trained: TrainedRun,
    keyword_gate: GateConfig | None = None,
    group_gate: GateConfig | None = None,
    linker_gate: GateConfig | None = None,
    occupation_gate: GateConfig | None = None,
    keyword_accurate_gate: GateConfig | None = None,
) -> dict[str, Any]:
    """Gate every evaluated candidate; returns the decision per model kind."""
    logger = get_run_logger()
    out: dict[str, Any] = {}
    gates = {"keywords_accurate": keyword_accurate_gate, "keywords": keyword_gate, "groups": group_gate,
             "linker": linker_gate, "occupations": occupation_gate}
    for kind, gate in gates.items():
        if kind in evaluation and kind in trained.models:
            out[kind] = gate_and_register(kind, evaluation[kind], trained.models[kind], gate or GateConfig())
            logger.info(
                "%s: %s - %s",
                kind,
                "PROMOTED" if out[kind]["promoted"] else "kept champion",
                out[kind]["reason"],
            )
    return out
