"""The whole pipeline's configuration and the model kinds every stage shares."""

from common.core.exports import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "PipelineConfig": "config",
    "quickstart_config_path": "config",
    "KINDS": "kinds",
    "ModelKind": "kinds",
    "model_kind": "kinds",
    "TrainedModel": "results",
    "TrainedRun": "results",
})
