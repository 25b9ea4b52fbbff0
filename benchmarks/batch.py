"""Batch extraction throughput: one process, a local Dask cluster (1 and 2 workers x 1 thread),
and the HTTP API's /extract_batch at 8 clients, against the encoder's own ceiling.

Postings: SkillSpan train+dev and the unlabelled City of Los Angeles postings, interleaved and
repeated to ``--postings`` (the issue's figure is 2,000; a smaller number gives the same rates
sooner). Every row runs keywords only (the tagger is the cost; ``--with-models`` adds a
one-process row with links, groups and occupations, and one with the posting skills as well). The ceiling is
``benchmarks/inference.py``'s encoder-only figure (sub-word tokens/s at 16 x 128) for the same
tagger and backend, measured in the same run; a row's ratio is its input sub-word tokens/s over it.

    python benchmarks/batch.py --model /tmp/tagger --postings 2000
    python benchmarks/batch.py --model DIR --postings 300 --json batch.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))
for _k, _v in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}.items():
    os.environ.setdefault(_k, _v)


def corpus(n: int) -> list[tuple[str, str]]:
    """(id, text) of ``n`` postings: SkillSpan and unlabelled postings interleaved, repeated."""
    from common.data.skillspan import load_skillspan
    from common.text.spans import posting_text

    skillspan = [posting_text(p) for split in ("train", "dev") for p in load_skillspan(split)]
    unlabeled = []
    path = ROOT.parent / "shared" / "data" / "unlabeled" / "postings.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("source") == "los-angeles-city-bulletins":
            unlabeled.append(row["text"][:100_000])
    mixed = [t for pair in zip(skillspan, unlabeled) for t in pair] + skillspan[len(unlabeled):] + unlabeled[len(skillspan):]
    return [(f"p{i:05d}", mixed[i % len(mixed)]) for i in range(n)]


def write_jsonl(rows: list[tuple[str, str]], path: Path) -> Path:
    path.write_text("\n".join(json.dumps({"id": i, "text": t}) for i, t in rows) + "\n", encoding="utf-8")
    return path


def run_rows(name: str, fn, words: int, tokens: int, ceiling: float) -> dict:
    t0 = time.perf_counter()
    fn()
    s = time.perf_counter() - t0
    row = {"run": name, "seconds": round(s, 1), "words_per_s": round(words / s, 1), "tokens_per_s": round(tokens / s, 1),
           "ratio_to_ceiling": round(tokens / s / ceiling, 3)}
    print(f"  {name:44s} {row['seconds']:8.1f} s {row['words_per_s']:9.1f} words/s {row['tokens_per_s']:9.1f} tok/s "
          f"ratio {row['ratio_to_ceiling']:.3f}", flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, required=True, help="Tagger folder.")
    ap.add_argument("--postings", type=int, default=2000)
    ap.add_argument("--part-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2, help="Torch threads of the one-process run and the ceiling.")
    ap.add_argument("--skip", nargs="*", default=[], choices=["dask1", "dask2", "http"])
    ap.add_argument("--with-models", action="store_true", help="Also one process with links, groups, occupations.")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)

    import torch

    from common.batch import BatchConfig, ModelPaths, done_state, load_models, read_postings, run_batch
    from common.core.settings import get_settings
    from inference import encoder_tokens_per_s

    torch.set_num_threads(args.threads)
    rows = corpus(args.postings)
    work = Path(tempfile.mkdtemp(prefix="batch-bench-"))
    src = write_jsonl(rows, work / "postings.jsonl")
    paths = ModelPaths(keywords=str(args.model), tags=(("keywords", f"dir:{args.model.name}"),))
    models = load_models(paths)
    tok = models.tagger.tokenizer
    words = sum(len(t.split()) for _, t in rows)
    tokens = sum(len(tok(t, add_special_tokens=False)["input_ids"]) for _, t in rows)
    ceiling = encoder_tokens_per_s(models.tagger, 16, 128, 8)
    print(f"{len(rows)} postings, {words:,} words, {tokens:,} sub-word tokens; backend {models.tagger.backend}; "
          f"encoder ceiling {ceiling:,.0f} tok/s (16 x 128, {args.threads} threads)", flush=True)
    max_chars = get_settings().max_text_chars
    cfg = BatchConfig(part_size=args.part_size, links=False, groups=False, occupations=False)
    results = []

    def one(out: str, c: BatchConfig = cfg, m=models) -> None:
        run_batch(read_postings(src, max_chars), work / out, m, c, done_state(work / out), progress=False)

    results.append(run_rows(f"one process ({args.threads} threads)", lambda: one("one"), words, tokens, ceiling))
    if args.with_models:
        from common.batch import default_paths

        full = load_models(default_paths(keywords=args.model))
        cfg_all = BatchConfig(part_size=args.part_size)
        results.append(run_rows("one process + links, groups, occupations",
                                lambda: one("all", cfg_all, full), words, tokens, ceiling))
        if full.linker is not None:
            cfg_skills = cfg_all.model_copy(update={"skills": True})
            results.append(run_rows("one process + links, groups, occupations, skills",
                                    lambda: one("skills", cfg_skills, full), words, tokens, ceiling))
    for n in (1, 2):
        if f"dask{n}" in args.skip:
            continue
        from distributed import Client, LocalCluster

        from common.batch.parallel import run_on_dask

        def dask(n: int = n) -> None:
            c1 = cfg.model_copy(update={"threads": 1})
            with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None) as cl, \
                    Client(cl) as client:
                run_on_dask(client, read_postings(src, max_chars), work / f"dask{n}", paths, c1,
                            done_state(work / f"dask{n}"), progress=False)

        results.append(run_rows(f"Dask LocalCluster {n} worker(s) x 1 thread (incl. start, model load)", dask, words,
                                tokens, ceiling))
    if "http" not in args.skip:
        results.append(http_row(args, rows, words, tokens, ceiling, work))
    if args.json:
        args.json.write_text(json.dumps({"postings": len(rows), "words": words, "tokens": tokens,
                                         "backend": models.tagger.backend, "ceiling_tokens_per_s": round(ceiling, 1),
                                         "rows": results}, indent=2), encoding="utf-8")
    return 0


def http_row(args, rows, words, tokens, ceiling, work: Path) -> dict:
    """/extract_batch (8 postings a request) at 8 clients on ``bentoml serve`` with the same tagger."""
    import httpx

    from serving import free_port, start, stop, wait_ready

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOBSKILLS_", "BENTOML_"))}
    env.update({"BENTOML_HOME": str(work / "bentoml"), "JOBSKILLS_DATA_DIR": str(work / "data"),
                "JOBSKILLS_SERVE_KEYWORD_MODEL_DIR": str(args.model), "JOBSKILLS_SERVE_GPUS": "0"})
    proc = start([sys.executable, "-m", "bentoml", "serve", "services.api:ApiService", "--host", "127.0.0.1",
                  "--port", str(port)], env, work / "bentoml.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, "Python and SQL", proc, 300, work / "bentoml.log")
        batches = [[t for _, t in rows[i:i + 8]] for i in range(0, len(rows), 8)]

        async def drive() -> None:
            queue = list(batches)
            async with httpx.AsyncClient(base_url=url, timeout=600) as client:
                async def worker() -> None:
                    while queue:
                        texts = queue.pop()
                        r = await client.post("/extract_batch", json={"texts": texts})
                        r.raise_for_status()
                await asyncio.gather(*(worker() for _ in range(8)))

        return run_rows("HTTP /extract_batch, 8 clients x 8 postings", lambda: asyncio.run(drive()), words, tokens,
                        ceiling)
    finally:
        stop(proc)


if __name__ == "__main__":
    raise SystemExit(main())
