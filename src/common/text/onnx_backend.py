"""ONNX Runtime for the encoders the product runs: export once, then serve fp32 or dynamic int8.

Measured on 2 CPU cores (fine-tuned MiniLM, 16 x 128 sub-words): eager PyTorch about 6,700
tokens/s, ONNX Runtime fp32 about 7,300, ONNX Runtime with dynamic int8 quantisation about
15,200. The export is hand-written with ``torch.onnx.export`` rather than optimum: the
``optimum-onnx`` release on the registry (0.1.0) requires ``transformers<4.58`` and this project
runs transformers 5, and the whole export is one wrapper module and one call.

``export_encoder`` writes ``encoder.onnx`` and ``encoder-int8.onnx`` next to a model; a model
without them still serves with torch. ``onnx_encoder`` is a drop-in for the Hugging Face encoder
inside a tagger: same call (``input_ids``, ``attention_mask``), same ``last_hidden_state``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

logger = logging.getLogger(__name__)

Backend = Literal["torch", "onnx", "onnx-int8"]
ONNX_FILES: dict[str, str] = {"onnx": "encoder.onnx", "onnx-int8": "encoder-int8.onnx"}
OPSET = 17


def export_encoder(encoder: Any, out_dir: str | Path, quantize: bool = True) -> dict[str, Path]:
    """Export a Hugging Face encoder module to ``out_dir/encoder.onnx`` (dynamic batch and
    length) and, with ``quantize``, its dynamic int8 copy ``encoder-int8.onnx``."""
    import torch

    class _Wrapped(torch.nn.Module):  # keyword call: BertModel's positional order has moved between releases
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fp32 = out_dir / ONNX_FILES["onnx"]
    was_training = encoder.training
    encoder.eval()
    ids = torch.ones((2, 16), dtype=torch.long)
    mask = torch.ones((2, 16), dtype=torch.long)
    from common.core.quiet import summarised_warnings

    try:
        with torch.no_grad(), summarised_warnings("ONNX export", logger):  # tracer notes a user cannot act on
            torch.onnx.export(_Wrapped(encoder).cpu(), (ids, mask), str(fp32), dynamo=False, opset_version=OPSET,
                              input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                              dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                            "attention_mask": {0: "batch", 1: "tokens"},
                                            "last_hidden_state": {0: "batch", 1: "tokens"}})
    finally:
        encoder.train(was_training)
    out = {"onnx": fp32}
    if quantize:
        out["onnx-int8"] = quantize_encoder(fp32, encoder)
    return out


# Below this mean cosine between the int8 and the fp32 encoder's states on a fixed probe, the plain
# int8 scheme has broken the encoder. MiniLM-L6 gives 0.94 (dev span-F1 -0.0035 from torch);
# all-mpnet-base-v2 gives 0.44: its feed-forward output projections carry activation outliers that
# 8 bits cannot hold. Kept in fp32 (12 of 96 matrices), mpnet gives 0.98.
PROBE_MIN_COSINE = 0.9
_FFN_OUTPUT = "/output/dense/MatMul"  # BERT/MPNet feed-forward down-projection; not the attention output


def quantize_encoder(fp32: Path, encoder: Any) -> Path:
    """Dynamic int8 copy of ``fp32`` (``encoder-int8.onnx``) that still agrees with the encoder.

    Plain dynamic int8 first; when its states drift from the fp32 encoder's on a fixed random probe
    (cosine under ``PROBE_MIN_COSINE``), again with per-channel weights on the matrix products only
    and the feed-forward output projections left in fp32. The scheme and the probe's cosine are
    written to ``encoder-int8.json``."""
    import json

    from onnxruntime.quantization import QuantType, quantize_dynamic

    int8 = fp32.parent / ONNX_FILES["onnx-int8"]
    schemes: dict[str, dict[str, Any]] = {
        "plain": {},
        "ffn-output-fp32": {"per_channel": True, "op_types_to_quantize": ["MatMul"],
                            "nodes_to_exclude": _nodes_named(fp32, _FFN_OUTPUT)},
    }
    cosine, used = 0.0, "plain"
    for used, kwargs in schemes.items():
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # onnxruntime logs "consider pre-processing" on the root logger each time
        try:
            from common.core.quiet import summarised_warnings

            with summarised_warnings("int8 quantisation", logger):
                quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, **kwargs)
        finally:
            root.setLevel(level)
        cosine = probe_cosine(int8, encoder)
        if cosine >= PROBE_MIN_COSINE:
            break
        logger.info("int8 scheme %s: probe cosine %.3f under %.2f", used, cosine, PROBE_MIN_COSINE)
    (fp32.parent / "encoder-int8.json").write_text(json.dumps({"scheme": used, "probe_cosine": round(cosine, 4)}),
                                                   encoding="utf-8")
    return int8


def _nodes_named(model_path: Path, fragment: str) -> list[str]:
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    return [n.name for n in graph.node if n.op_type == "MatMul" and fragment in n.name and "attention" not in n.name]


def probe_cosine(int8: Path, encoder: Any) -> float:
    """Mean cosine between the int8 export's and the torch encoder's states on 4 x 64 fixed random
    token ids (outliers show on any input)."""
    import torch

    gen = torch.Generator().manual_seed(0)
    vocab = int(getattr(encoder.config, "vocab_size", 2000))
    ids = torch.randint(min(1000, vocab - 1), vocab, (4, 64), generator=gen)
    mask = torch.ones_like(ids)
    was_training = encoder.training
    encoder.eval()
    try:
        with torch.no_grad():
            ref = encoder(input_ids=ids, attention_mask=mask).last_hidden_state.float().cpu()
    finally:
        encoder.train(was_training)
    got = onnx_encoder(int8, encoder.config, None, "cpu")(input_ids=ids, attention_mask=mask).last_hidden_state
    got = torch.as_tensor(got).float()
    return float(torch.nn.functional.cosine_similarity(got.reshape(-1, got.shape[-1]),
                                                       ref.reshape(-1, ref.shape[-1]), dim=-1).mean())


def available_backends(model_dir: str | Path) -> list[str]:
    """``torch`` plus every ONNX export present in ``model_dir``."""
    return ["torch"] + [b for b, f in ONNX_FILES.items() if (Path(model_dir) / f).exists()]


INT8_PARITY = 0.005  # the most dev figure an int8 export may lose against torch and still serve


def _int8_meta(model_dir: str | Path) -> dict[str, Any]:
    """``encoder-int8.json`` (scheme, probe cosine, parity); empty when absent or unreadable."""
    import json

    try:
        return json.loads((Path(model_dir) / "encoder-int8.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def int8_refused(model_dir: str | Path) -> bool:
    """Whether the folder's int8 export was measured below parity (``record_int8_parity``)."""
    return _int8_meta(model_dir).get("parity", {}).get("ok") is False


def record_int8_parity(model_dir: str | Path, torch_score: float, int8_score: float, metric: str) -> bool:
    """Write the int8 export's dev parity beside it; returns whether it holds (at most
    ``INT8_PARITY`` below torch). A refused int8 export stays on disk for inspection, and ``auto``
    serves the fp32 export instead."""
    import json

    meta = _int8_meta(model_dir)
    ok = torch_score - int8_score <= INT8_PARITY
    meta["parity"] = {"metric": metric, "torch": round(torch_score, 4), "int8": round(int8_score, 4), "ok": ok}
    (Path(model_dir) / "encoder-int8.json").write_text(json.dumps(meta), encoding="utf-8")
    return ok


def choose_backend(model_dir: str | Path, requested: str, device: str) -> str:
    """The backend to run: ``requested``, or for ``auto`` on CPU the int8 export when present (the
    fp32 export when the int8 one was measured below parity), and torch on a GPU or without an
    export. Asking for an export the folder lacks is an error."""
    have = available_backends(model_dir)
    if requested == "auto":
        if device != "cpu" or "onnx-int8" not in have:
            return "torch"
        return "onnx" if int8_refused(model_dir) and "onnx" in have else "onnx-int8"
    if requested not in ("torch", *ONNX_FILES):
        raise ValueError(f"unknown inference backend {requested!r}; use auto, torch, onnx or onnx-int8")
    if requested not in have:
        raise FileNotFoundError(f"{model_dir} has no {ONNX_FILES[requested]}: export it first "
                                f"(jobskills keywords export-onnx --model {model_dir})")
    return requested


def onnx_encoder(path: str | Path, config: Any, threads: int | None = None, device: str = "cpu") -> Any:
    """A ``torch.nn.Module`` running the ONNX export at ``path`` behind the Hugging Face encoder
    call (``input_ids``, ``attention_mask`` -> ``.last_hidden_state``), so a tagger's heads run on it
    unchanged. ``threads``: onnxruntime's intra-op threads (None: its default, all cores)."""
    import onnxruntime as ort
    import torch

    class OnnxEncoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            opts = ort.SessionOptions()
            if threads:
                opts.intra_op_num_threads = threads
                opts.inter_op_num_threads = 1
            providers = ["CPUExecutionProvider"]
            if device == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
                providers.insert(0, "CUDAExecutionProvider")
            self.session = ort.InferenceSession(str(path), sess_options=opts, providers=providers)
            self.config = config
            self.path = str(path)

        def forward(self, input_ids: Any, attention_mask: Any, **_: Any) -> Any:
            hidden = self.session.run(["last_hidden_state"], {
                "input_ids": input_ids.detach().cpu().numpy(),
                "attention_mask": attention_mask.detach().cpu().numpy()})[0]
            return SimpleNamespace(last_hidden_state=torch.from_numpy(hidden).to(input_ids.device))

    return OnnxEncoder()
