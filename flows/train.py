"""The train flow: fine-tune the keyword tagger and fit the skill-group classifier on merged labels.

Each model is one Prefect task whose cache key is (training-data version, config): re-running
the flow on unchanged data and config reuses the finished model folder instead of training
again (the key is only offered while that folder is complete, so a deleted model retrains).
Models land in ``<models_dir>/<model name>/<data version>-<config hash>/`` -- candidates, not
yet served; the promote flow decides whether one enters the registry.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task

from common.groups.config import GroupConfig
from common.keywords.config import TaggerConfig, accurate_tagger_config
from common.linking.linker import LinkerConfig
from common.occupations.config import OccupationConfig
from common.pipeline.results import TrainedModel, TrainedRun


def _cfg_hash(cfg: Any) -> str:
    return hashlib.sha256(json.dumps(cfg.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:10]


def candidate_dir(model_name: str, data_version: str, cfg: Any) -> Path:
    from common.core.settings import get_settings

    return get_settings().models_dir / model_name / f"{data_version.replace(':', '-')}-{_cfg_hash(cfg)}"


# bump when the tasks' result type changes, so that results cached by an older version (dicts
# before TrainedModel) are never returned to code that expects the new type
RESULT_FORMAT = "v2"


def _complete(path: Path, marker: str) -> bool:
    return (path / marker).exists() and (path / "train_result.json").exists()


def _candidate_key(task_name: str, model_name: str, marker: str, extra: str | None = None):  # noqa: ANN202
    """A cache key for a training task: set only once its candidate folder is complete (``marker``
    and ``train_result.json`` written), so a crashed run trains again instead of reusing half a model."""

    def key(context: Any, params: dict[str, Any]) -> str | None:
        from common.core.settings import get_settings

        d = candidate_dir(getattr(get_settings(), model_name), params["data_version"], params["cfg"])
        tail = d.name if extra is None else f"{d.name}-{params.get(extra)}"
        return (f"{task_name}-{RESULT_FORMAT}-{tail}-{hashlib.sha1(str(d).encode()).hexdigest()[:8]}"
                if _complete(d, marker) else None)

    return key


_kw_key = _candidate_key("train-keywords", "keyword_model_name", "tagger.json")
_kwa_key = _candidate_key("train-keywords-accurate", "keyword_accurate_model_name", "tagger.json")
_grp_key = _candidate_key("train-groups", "group_model_name", "group_model.json", extra="crowd_groups")
_link_key = _candidate_key("build-linker", "linker_model_name", "linker.json")
_occ_key = _candidate_key("build-occupations", "occupation_model_name", "occupations.json")


def _saved(kind: str, model_dir: Path, metrics: dict[str, Any], seconds: float, data_version: str, cfg: Any,
           counts: dict[str, int]) -> TrainedModel:
    """The candidate as a ``TrainedModel``, its ``train_result.json`` written into the folder."""
    result = TrainedModel(kind=kind, model_dir=str(model_dir), metrics=metrics, seconds=seconds,
                          data_version=data_version, params=cfg.model_dump(mode="json"), counts=counts)
    result.save()
    return result


@task(name="load-training-data", cache_policy=None)
def load_training_data() -> dict[str, Any]:
    """Merged labels and postings from the store, with the store's data version."""
    from common.data.storage import Store

    with Store.open() as store:
        return {
            "merged": store.merged_labels(),
            "postings": store.postings(),
            "data_version": store.data_version(),
        }


def _train_tagger_candidate(kind: str, name: str, cfg: TaggerConfig, data_version: str,
                            data: dict[str, Any]) -> TrainedModel:
    """Fine-tune a tagger (either tier) on merged train postings, evaluated on dev (gold) postings."""
    from common.keywords.training import train_tagger
    from common.labels.merge import training_sets

    train, dev = training_sets(data["merged"], data["postings"])
    if not train:
        from common.data.storage import Store
        from common.pipeline.waiting import before_training, store_counts

        with Store.open() as store:
            raise ValueError(before_training(0, store_counts(store)))
    out = candidate_dir(name, data_version, cfg)
    res = train_tagger(cfg, train, dev, out, progress=False)
    return _saved(kind, res.model_dir, res.metrics, res.seconds, data_version, cfg,
                  {"train_postings": len(train), "dev_postings": len(dev)})


@task(name="train-keywords", cache_key_fn=_kw_key, persist_result=True)
def train_keywords(cfg: TaggerConfig, data_version: str, data: dict[str, Any]) -> TrainedModel:
    """The fast tier (MiniLM; a student of the accurate champion when the config names a teacher)."""
    from common.core.settings import get_settings

    return _train_tagger_candidate("keywords", get_settings().keyword_model_name, cfg, data_version, data)


@task(name="train-keywords-accurate", cache_key_fn=_kwa_key, persist_result=True)
def train_keywords_accurate(cfg: TaggerConfig, data_version: str, data: dict[str, Any]) -> TrainedModel:
    """The accurate tier (mpnet): hours on a CPU, minutes on a GPU; resumable from its checkpoint."""
    from common.core.settings import get_settings

    return _train_tagger_candidate("keywords_accurate", get_settings().keyword_accurate_model_name, cfg,
                                   data_version, data)


@task(name="label-unlabeled", cache_policy=None)
def label_unlabeled_task(teacher: str, fraction: float) -> str | None:
    """The teacher's labels of the unlabelled job text (cached per teacher folder; a stopped run
    resumes at the first missing shard); None when there is no unlabelled text."""
    from common.core.settings import get_settings
    from common.keywords.unlabeled import default_cache_dir, label_unlabeled

    s = get_settings()
    if not s.unlabeled_postings.is_file():
        get_run_logger().warning("no unlabelled text at %s: the student learns from SkillSpan train only",
                                 s.unlabeled_postings)
        return None
    return str(label_unlabeled(teacher, s.unlabeled_postings, default_cache_dir(teacher), fraction=fraction,
                               progress=False))


def encoder_missing(cfg: TaggerConfig) -> str | None:
    """The sentence that says why ``cfg``'s encoder cannot be used here, or None when it can."""
    try:
        path = Path(cfg.encoder_path())
    except FileNotFoundError as exc:
        return str(exc)
    return None if (path / "config.json").exists() else f"the encoder folder {path} holds no config.json"


def student_config(cfg: TaggerConfig, fraction: float) -> TaggerConfig:
    """The fast tier's config as a student of the accurate tier's champion, when there is one."""
    from common import registry
    from common.keywords.tiers import tier_model_name

    logger = get_run_logger()
    if cfg.teacher or cfg.variant == "crf":
        return cfg
    try:
        champ = registry.champion(tier_model_name("accurate"))
    except Exception:  # noqa: BLE001  (an empty store: no teacher)
        champ = None
    if champ is None:
        logger.info("no accurate-tier champion yet: the fast tier trains without a teacher")
        return cfg
    cache = label_unlabeled_task(str(champ.path), fraction) if fraction > 0 else None
    logger.info("the fast tier learns from the accurate champion %s (%s of the unlabelled text)", champ.tag,
                f"{fraction:.0%}" if cache else "none")
    return cfg.model_copy(update={"teacher": str(champ.path), "unlabeled_cache": cache,
                                  "unlabeled_fraction": fraction})


@task(name="train-groups", cache_key_fn=_grp_key, persist_result=True)
def train_groups_task(
    cfg: GroupConfig, data_version: str, data: dict[str, Any], crowd_groups: str = "union"
) -> TrainedModel:
    """Fit the group classifier on ESCO training skills (+ merged crowd labels), evaluated on ESCO dev."""
    from common.core.settings import get_settings
    from common.groups.training import train_groups
    from common.labels.merge import group_training_frames

    train_df, dev_df, groups_df = group_training_frames(data["merged"], crowd_groups)
    out = candidate_dir(get_settings().group_model_name, data_version, cfg)
    res = train_groups(
        cfg, train_df=train_df, dev_df=dev_df, groups_df=groups_df, out_dir=out, progress=False
    )
    return _saved("groups", res.model_dir, res.metrics, res.seconds, data_version, cfg,
                  {"train_skills": len(train_df), "dev_skills": len(dev_df)})


@task(name="build-linker", cache_key_fn=_link_key, persist_result=True)
def build_linker_task(cfg: LinkerConfig, data_version: str) -> TrainedModel:
    """Index the ESCO taxonomy (adapting the encoder on its synonyms first when configured) and
    pick the abstention threshold on the span->ESCO validation files."""
    from common.core.settings import get_settings
    from common.linking.linker import build_linker
    from common.linking.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    out = candidate_dir(get_settings().linker_model_name, data_version, cfg)
    linker = build_linker(cfg, taxonomy, out_dir=out, progress=False)
    return _saved("linker", out, linker.metrics, float(linker.metrics.get("build_seconds", 0.0)), data_version, cfg,
                  {"taxonomy_skills": len(taxonomy)})


@task(name="build-occupations", cache_key_fn=_occ_key, persist_result=True)
def build_occupations_task(cfg: OccupationConfig, data_version: str) -> TrainedModel:
    """Index ESCO's occupations, fit the ranker and the core/fringe classifier on training
    occupations and measure both on held-out ones (``common.occupations``)."""
    from common.core.settings import get_settings
    from common.occupations.training import build_occupation_model

    out = candidate_dir(get_settings().occupation_model_name, data_version, cfg)
    model = build_occupation_model(cfg, out_dir=out, progress=False)
    return _saved("occupations", out, model.metrics, float(model.metrics.get("build_seconds", 0.0)), data_version,
                  cfg, {"occupations": len(model.ranker.taxonomy)})


@flow(name="train", log_prints=True)
def train_flow(
    models: list[str] | None = None,
    keywords: TaggerConfig | None = None,
    groups: GroupConfig | None = None,
    crowd_groups: str = "union",
    linker: LinkerConfig | None = None,
    occupations: OccupationConfig | None = None,
    keywords_accurate: TaggerConfig | None = None,
    distill_fast: bool = False,
    distill_fraction: float = 1.0,
) -> TrainedRun:
    """Train the requested models (``keywords_accurate``, ``keywords``, ``groups``, ``linker``,
    ``occupations``) on the current merged data.

    The accurate keyword tier trains first and is skipped, with the sentence that says how to
    install it, when its encoder is not installed. With ``distill_fast`` the fast tier learns from
    the accurate tier's champion (this run's accurate candidate is not a champion until the promote
    flow passes it, so it teaches the next run). The linker depends on the taxonomy, not on the
    merged labels; it is rebuilt here so that a new encoder or taxonomy reaches it through the
    same gate as the other models.
    """
    logger = get_run_logger()
    models = list(models or ["keywords", "groups"])
    data = load_training_data()
    out = TrainedRun(data_version=data["data_version"])
    if "keywords_accurate" in models:
        acc = keywords_accurate or accurate_tagger_config()
        if why := encoder_missing(acc):
            logger.warning("skipped the accurate keyword tier: %s", why)
        else:
            ka = out.models["keywords_accurate"] = train_keywords_accurate(acc, out.data_version, data)
            logger.info("accurate keyword tier: span-F1 %s", ka.metrics.get("span_f1"))
    if "keywords" in models:
        cfg = keywords or TaggerConfig()
        cfg = student_config(cfg, distill_fraction) if distill_fast else cfg
        kw = out.models["keywords"] = train_keywords(cfg, out.data_version, data)
        logger.info("keyword tagger: %s", {k: round(v, 4) for k, v in kw.metrics.items()
                                           if k in ("span_f1", "span_precision", "span_recall")})
    if "groups" in models:
        grp = out.models["groups"] = train_groups_task(groups or GroupConfig(), out.data_version, data, crowd_groups)
        logger.info("group model: l2 %s", grp.metrics.get("l2", {}).get("micro_f1"))
    if "linker" in models:
        lk = out.models["linker"] = build_linker_task(linker or LinkerConfig(), out.data_version)
        logger.info("ESCO linker: R@1 %s, threshold %s", lk.metrics.get("r_at_1"), lk.metrics.get("tech", {}).get("threshold"))
    if "occupations" in models:
        oc = out.models["occupations"] = build_occupations_task(occupations or OccupationConfig(), out.data_version)
        logger.info("occupations: dev R@1 with title %s", oc.metrics.get("dev_title", {}).get("ranker", {}).get("r_at_1"))
    return out
