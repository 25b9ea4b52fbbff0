"""Encoder ceiling of a tagger on a CUDA GPU: torch fp32, torch fp16 and, where onnxruntime-gpu is
installed, ONNX Runtime's CUDA provider (fp32 export), in sub-word pieces/s on fixed batches.

    python benchmarks/gpu_ceiling.py --model DIR [--batch 64 --length 128 --repeats 20]

Exits 2 with a sentence when torch sees no CUDA device. Used by ``benchmarks/gpu.sh``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path


def timed(fn, repeats: int) -> float:  # noqa: ANN001 - a no-argument callable
    import torch

    fn()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) / repeats


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, required=True, help="tagger folder")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--length", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)

    import torch

    if not torch.cuda.is_available():
        print("error: no CUDA device (torch.cuda.is_available() is false): run this on a GPU machine", file=sys.stderr)
        return 2
    from common.keywords.tagger import KeywordTagger

    tagger = KeywordTagger.load(args.model, device="cuda", backend="torch")
    enc = tagger.net.encoder
    ids = torch.randint(1000, 2000, (args.batch, args.length), device="cuda")
    mask = torch.ones_like(ids)
    pieces = args.batch * args.length
    rows = {"device": torch.cuda.get_device_name(0), "batch": args.batch, "length": args.length}
    with torch.inference_mode():
        rows["torch_fp32"] = pieces / timed(lambda: enc(input_ids=ids, attention_mask=mask), args.repeats)
        with torch.autocast("cuda", dtype=torch.float16):
            rows["torch_fp16"] = pieces / timed(lambda: enc(input_ids=ids, attention_mask=mask), args.repeats)
    try:
        import onnxruntime as ort

        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise ImportError("onnxruntime has no CUDAExecutionProvider (install onnxruntime-gpu)")
        from common.text.onnx_backend import export_encoder

        out = Path(tempfile.mkdtemp(prefix="gpu-ceiling-"))
        export_encoder(KeywordTagger.load(args.model, device="cpu", backend="torch").net.encoder, out, quantize=False)
        sess = ort.InferenceSession(str(out / "encoder.onnx"), providers=["CUDAExecutionProvider"])
        feed = {"input_ids": ids.cpu().numpy(), "attention_mask": mask.cpu().numpy()}
        rows["onnx_cuda_fp32"] = pieces / timed(lambda: sess.run(None, feed), args.repeats)
    except Exception as exc:  # noqa: BLE001  (optional row: say why it is missing)
        rows["onnx_cuda_fp32"] = f"not measured: {exc}"
    print(json.dumps(rows, indent=2, default=str))
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
