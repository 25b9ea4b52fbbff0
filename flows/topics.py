"""The topics flow: refit BERT topics on the stored postings and publish them for the API.

Reads the postings marked ``valid`` in the store (or texts/a file given as parameters), fits the
topic model (``common.topics.model``), saves it with its topic map plot under
``<models_dir>/topics/<run stamp>/``, publishes it as ``<models_dir>/topics/latest`` (what
``POST /topics`` serves), and records the run (counts, topic count, noise share) in the store.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task

from common.data.records import RunRecord, utcnow
from common.topics.corpus import read_text_file
from flows.run_ids import flow_run_id


@task(name="load-postings", cache_policy=None)
def load_postings(statuses: list[str]) -> tuple[list[str], list[str]]:
    """Texts and ids of the stored postings with one of ``statuses``."""
    from common.data.storage import Store

    with Store.open() as store:
        df = store.postings(status=statuses)
    df = df[df["text"].fillna("").str.strip() != ""]
    return df["text"].tolist(), df["posting_id"].astype(str).tolist()


@task(name="fit-topics", cache_policy=None)
def fit_task(texts: list[str], doc_ids: list[str], config_path: str | None, out_dir: str | None,
             publish: bool) -> dict[str, Any]:
    """Fit and save the topic model (plot included); returns the run folder and fit info."""
    from common.topics.config import TopicConfig
    from common.topics.model import fit_topics

    cfg = TopicConfig.from_yaml(config_path) if config_path else TopicConfig()
    model, run_dir = fit_topics(texts, cfg, doc_ids=doc_ids, out_dir=out_dir, make_latest=publish)
    return {"model_dir": str(run_dir), "topics": model.topic_info(), **model.info}


@flow(name="topics", log_prints=True)
def topics_flow(
    texts: list[str] | None = None,
    path: str | None = None,
    statuses: list[str] | None = None,
    config_path: str | None = None,
    out_dir: str | None = None,
    publish: bool = True,
    min_docs: int = 2,
) -> dict[str, Any]:
    """Refit topics on stored postings (default: status ``valid``), or on ``texts`` / a file ``path``.

    Returns the run folder, the number of documents and topics, and each topic's label and words.
    Fails with a sentence when fewer than ``min_docs`` postings are available.
    """
    logger = get_run_logger()
    run_id = flow_run_id()
    if texts is not None:
        doc_ids, source = [str(i) for i in range(len(texts))], "texts"
    elif path:
        texts, doc_ids = read_text_file(path)
        source = f"file:{path}"
    else:
        statuses = statuses or ["valid"]
        texts, doc_ids = load_postings(statuses)
        source = f"store:{','.join(statuses)}"
    params = {"source": source, "config_path": config_path, "publish": publish}
    if len(texts) < min_docs:
        raise ValueError(f"topics need at least {min_docs} postings; found {len(texts)} ({source})")
    info = fit_task(texts, doc_ids, config_path, out_dir, publish)
    logger.info("topics: %s topics over %s documents (%s paragraphs) -> %s", info["n_topics"], info["n_docs"],
                info["n_paragraphs"], info["model_dir"])
    from common.data.storage import Store

    metrics = {k: info[k] for k in ("n_docs", "n_paragraphs", "n_topics", "noise_share", "seconds")}
    with Store.open() as store:
        store.record_run(RunRecord(run_id=run_id, flow="topics", status="completed", params=params,
                                   metrics={**metrics, "model_dir": info["model_dir"]}, finished_at=utcnow()))
    return {"run_id": run_id, **info}
