"""Every config is strict, and each stage's documented default lives in one place (the code).

``configs/<stage>.yaml`` states the code defaults so they can be read and copied; the scheduled
pipeline (``configs/pipeline.yaml``) holds only what differs, so it trains what the docs measured.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from common.core.config import ConfigError

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs"


def _config_class(path: Path):  # noqa: ANN202 - a StageConfig subclass
    from common.data.ingest import IngestConfig
    from common.groups.config import GroupConfig
    from common.keywords.config import TaggerConfig
    from common.linking.linker import LinkerConfig
    from common.monitoring.config import DriftConfig
    from common.occupations.config import OccupationConfig
    from common.pipeline.config import PipelineConfig
    from common.topics.config import TopicConfig

    by_prefix = {"tagger": TaggerConfig, "groups": GroupConfig, "linker": LinkerConfig, "drift": DriftConfig,
                 "occupations": OccupationConfig,
                 "topics": TopicConfig, "ingest": IngestConfig, "pipeline": PipelineConfig,
                 "quickstart": PipelineConfig}
    return by_prefix[re.split(r"[-_.]", path.name)[0]]


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_config_file_loads_with_its_class(path):
    cfg = _config_class(path).from_yaml(path)
    assert cfg.model_dump()  # validated, strict: an unknown key would have raised


def test_lda_section_of_the_topics_file_loads():
    from common.topics.lda import LDAConfig

    assert LDAConfig.from_yaml(CONFIGS / "topics.yaml").tune_runs == 3


def test_every_config_file_the_docs_name_exists():
    texts = [p.read_text(encoding="utf-8") for p in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]]
    named = {m for t in texts for m in re.findall(r"configs/([\w.-]+\.yaml)", t)}
    assert {"tagger.yaml", "groups.yaml", "pipeline.yaml"} <= named
    assert not [n for n in named if not (CONFIGS / n).exists()]


@pytest.mark.parametrize("stage", ["tagger", "groups", "linker", "occupations", "drift", "topics", "ingest"])
def test_the_default_file_states_the_code_defaults(stage):
    path = CONFIGS / f"{stage}.yaml"
    cls = _config_class(path)
    assert cls.from_yaml(path) == cls()


def test_the_scheduled_pipeline_trains_the_documented_models():
    """What `jobskills pipeline retrain` builds is what the docs' "how the rows were made" commands build."""
    from common.groups.config import GroupConfig
    from common.keywords.config import TaggerConfig, accurate_tagger_config
    from common.linking.linker import LinkerConfig
    from common.occupations.config import OccupationConfig
    from common.pipeline.config import PipelineConfig

    cfg = PipelineConfig.from_yaml(CONFIGS / "pipeline.yaml")
    assert cfg.keywords == TaggerConfig.from_yaml(CONFIGS / "tagger.yaml")
    assert cfg.groups == GroupConfig.from_yaml(CONFIGS / "groups.yaml")
    assert cfg.linker == LinkerConfig.from_yaml(CONFIGS / "linker.yaml")
    assert cfg.occupations == OccupationConfig.from_yaml(CONFIGS / "occupations.yaml")
    # the accurate tier: the mpnet recipe the model card measured, not MiniLM's defaults
    assert cfg.keywords_accurate == TaggerConfig.from_yaml(CONFIGS / "tagger-mpnet.yaml") == accurate_tagger_config()
    assert cfg.keywords_accurate.encoder == "mpnet" and cfg.keywords_accurate.tier == "accurate"
    assert cfg.models.index("keywords_accurate") < cfg.models.index("keywords") and cfg.distill_fast
    assert "occupations" in cfg.models
    assert cfg.keywords.epochs == 4 and cfg.groups.xgb.n_estimators == 400  # the figures in docs/


def test_the_packaged_quickstart_config_is_the_checkout_file():
    from common.pipeline.config import quickstart_config_path

    path = quickstart_config_path()
    assert path.read_text(encoding="utf-8") == (CONFIGS / "quickstart.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize("kind,text,message", [
    ("tagger", "epoch: 3\n", ": unknown field 'epoch' (did you mean 'epochs'?)"),
    ("tagger", "variant: finetuned\n", ": variant: Input should be 'frozen', 'finetune' or 'crf' (did you mean 'finetune'?)"),
    ("pipeline", "keywords: {epoch: 3}\n", " [keywords]: unknown field 'epoch' (did you mean 'epochs'?)"),
    ("pipeline", "keywords_accurate: {layer_lr_decy: 0.8}\n",
     " [keywords_accurate]: unknown field 'layer_lr_decy' (did you mean 'layer_lr_decay'?)"),
    ("pipeline", "group: {kind: ovr}\n", ": unknown field 'group' (did you mean 'groups'?)"),
    ("pipeline", "groups: {features: [embeding, nn]}\n", ": groups.features.0: Input should be"),
    ("pipeline", "groups: {xgb: {n_estimator: 10}}\n",
     " [groups.xgb]: unknown field 'n_estimator' (did you mean 'n_estimators'?)"),
    ("pipeline", "groups: {mirror: {epoch: 1}}\n", ": groups.mirror: mirror: unknown field 'epoch' (did you mean 'epochs'?)"),
    ("pipeline", "linker: {weights: {dense: 1, lexicl: 0.5}}\n", " [linker.weights]: unknown field 'lexicl' (did you mean 'lexical'?)"),
    ("pipeline", "merge: {span_methd: weighted}\n",
     " [merge]: unknown field 'span_methd' (did you mean 'span_method'?)"),
    ("pipeline", "keyword_gate: {margn: 0.1}\n", " [keyword_gate]: unknown field 'margn' (did you mean 'margin'?)"),
])
def test_a_misspelt_key_or_value_anywhere_fails_before_anything_runs_with_one_sentence(tmp_path, kind, text, message):
    path = tmp_path / f"{kind}.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        _config_class(path).from_yaml(path)
    assert str(err.value).startswith(f"{path}{message}")
    assert "\n" not in str(err.value)


def test_a_misspelt_settings_variable_is_an_error_naming_the_closest(monkeypatch):
    from common.core.settings import get_settings

    monkeypatch.setenv("JOBSKILLS_DATADIR", "/tmp/somewhere")
    get_settings.cache_clear()
    try:
        with pytest.raises(ConfigError, match="unknown variable 'JOBSKILLS_DATADIR' .did you mean 'JOBSKILLS_DATA_DIR'"):
            get_settings()
    finally:
        get_settings.cache_clear()


def test_a_misspelt_serving_variable_or_yaml_key_is_an_error(tmp_path, monkeypatch):
    from services.config import ServingConfig

    monkeypatch.setenv("JOBSKILLS_SERVE_WORKER", "2")
    with pytest.raises(ConfigError, match="did you mean 'JOBSKILLS_SERVE_WORKERS'"):
        ServingConfig.load()
    monkeypatch.delenv("JOBSKILLS_SERVE_WORKER")
    path = tmp_path / "serve.yaml"
    path.write_text("max_batch: 8\n", encoding="utf-8")
    monkeypatch.setenv("JOBSKILLS_SERVE_CONFIG", str(path))
    with pytest.raises(ConfigError, match="unknown field 'max_batch' .did you mean 'max_batch_size'"):
        ServingConfig.load()
