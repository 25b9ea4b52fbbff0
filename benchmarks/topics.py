"""Topic benchmark (issue 8): BERT topics + c-TF-IDF vs default LDA vs LDADE-tuned LDA.

Collection: SkillSpan train+dev postings plus ESCO occupation descriptions. For each method,
``--runs`` fits on shuffled document orders; reported per method: NPMI coherence (gensim
``c_npmi`` over the collection's documents, top 10 words, mean over runs), topic diversity
(unique share of the top 25 words, mean over runs), stability (mean pairwise matched Jaccard of
the top-10 words across the runs; 1 = the same topics every time), number of topics, and time
(one fit; for BERT embedding time + clustering, for LDADE the tuning time is reported too).

    nice -n 10 python benchmarks/topics.py            # full run, about 30-40 min on 2 busy cores
    nice -n 10 python benchmarks/topics.py --max-docs 150 --runs 3 --generations 1   # smoke

Writes ``<reports_dir>/benchmarks/topics.json`` and ``topics.md`` and the BERT topic map PNG.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

for _k, _v in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}.items():
    import os

    os.environ.setdefault(_k, _v)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def main(argv: list[str] | None = None) -> dict:
    from common.topics.lda import LDAConfig, shuffled_runs, tune_ldade, vectorize
    from common.core.settings import get_settings
    from common.topics.corpus import benchmark_collection
    from common.topics.metrics import npmi_coherence, stability, topic_diversity
    from common.topics.model import Encoder, TopicModel, clean_text, paragraphs_of, plot_topic_map, reduce_embeddings
    from common.topics.config import TopicConfig

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default=str(Path(__file__).resolve().parents[1] / "configs" / "topics.yaml"))
    ap.add_argument("--max-docs", type=int, default=None, help="Cap per source (SkillSpan, ESCO) for quick runs.")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--generations", type=int, default=None, help="Override LDADE generations.")
    ap.add_argument("--tune-max-docs", type=int, default=None,
                    help="Override LDADE's document sample (0 = tune on the whole collection).")
    ap.add_argument("--out", default=None)
    ap.add_argument("--skip", nargs="*", default=[], help="Methods to skip: bert, bert-kmeans, lda, ldade.")
    args = ap.parse_args(argv)

    s = get_settings()
    tcfg = TopicConfig.from_yaml(args.config)
    lcfg = LDAConfig.from_yaml(args.config)
    if args.generations is not None:
        lcfg.generations = args.generations
    if args.tune_max_docs is not None:
        lcfg.tune_max_docs = args.tune_max_docs or None
    out_dir = Path(args.out) if args.out else s.reports_dir / "benchmarks"
    out_dir.mkdir(parents=True, exist_ok=True)

    texts, ids = benchmark_collection(max_docs=args.max_docs)
    n_posts = sum(i.startswith("skillspan") for i in ids)
    log(f"collection: {len(texts)} documents ({n_posts} SkillSpan postings, {len(texts) - n_posts} ESCO occupations)")
    dt, vocab = vectorize(texts, lcfg)
    from sklearn.feature_extraction.text import CountVectorizer

    analyzer = CountVectorizer(stop_words="english", token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z0-9]+\b").build_analyzer()
    tokenized = [analyzer(clean_text(t)) for t in texts]
    rows: dict[str, dict] = {}

    def summarise(name: str, runs: list[list[list[str]]], fit_seconds: list[float], extra: dict | None = None) -> None:
        coh = [npmi_coherence(r, tokenized, top_n=10) for r in runs]
        row = {
            "method": name, "n_topics": statistics.mean(len(r) for r in runs),
            "npmi": float(np.nanmean(coh)), "diversity": float(np.mean([topic_diversity(r, 25) for r in runs])),
            "stability": stability(runs, "mean"), "median_stability": stability(runs, "median"),
            "fit_seconds": float(np.mean(fit_seconds)), "runs": len(runs), "example_topics": runs[0][:5],
            **(extra or {}),
        }
        rows[name] = row
        log(f"{name}: npmi={row['npmi']:.4f} diversity={row['diversity']:.3f} stability={row['stability']:.3f} "
            f"topics={row['n_topics']:.1f} fit={row['fit_seconds']:.1f}s")

    # ---- BERT topics + c-TF-IDF ------------------------------------------------------------
    if not {"bert", "bert-kmeans"} <= set(args.skip):
        paras, para_doc = paragraphs_of(texts, tcfg)
        emb, embed_s = cached_embeddings(paras, Encoder(tcfg.encoder, tcfg.device, max_length=None, batch_size=tcfg.batch_size),
                                         s.cache_dir / "topics")
        log(f"embedded {len(paras)} paragraphs in {embed_s:.1f}s")
        para_doc = np.asarray(para_doc)
        variants = [("BERT topics (UMAP+HDBSCAN) + c-TF-IDF", "bert", tcfg),
                    ("BERT topics (UMAP+k-means, k=LDA default) + c-TF-IDF", "bert-kmeans",
                     tcfg.model_copy(update={"clusterer": "kmeans", "n_clusters": lcfg.default.n_topics}))]
        variants = [v for v in variants if v[1] not in args.skip]
        runs: dict[str, list] = {key: [] for _, key, _ in variants}
        secs: dict[str, list] = {key: [] for _, key, _ in variants}
        for r in range(args.runs):
            # one shuffled order and one UMAP per run, shared by both clusterers
            perm = np.random.default_rng(1000 + r).permutation(len(paras))
            t0 = time.perf_counter()
            reduced = reduce_embeddings(emb[perm], tcfg, seed=tcfg.seed + r)
            reduce_s = time.perf_counter() - t0
            for _, key, cfg in variants:
                t0 = time.perf_counter()
                m = TopicModel.fit_embeddings([paras[i] for i in perm], para_doc[perm], emb[perm], cfg,
                                              seed=cfg.seed + r, reduced=reduced)
                secs[key].append(embed_s + reduce_s + time.perf_counter() - t0)
                runs[key].append(m.top_words(10))
                log(f"  {key} run {r}: {len(m.topics)} topics, noise {m.info['noise_share']:.2f}, "
                    f"reduce {reduce_s:.1f}s + cluster/c-TF-IDF {time.perf_counter() - t0:.1f}s")
                if r == 0:
                    plot_topic_map(m, out_dir / f"topics_map_{key}.png")
        for name, key, _ in variants:
            summarise(name, runs[key], secs[key], {"embed_seconds": embed_s, "n_paragraphs": len(paras)})

    # ---- default LDA -----------------------------------------------------------------------
    default_params = lcfg.default
    if "lda" not in args.skip:
        t0 = time.perf_counter()
        runs, _ = shuffled_runs(dt, vocab, default_params, args.runs, seed=2000, top_n=10, max_iter=lcfg.max_iter)
        summarise("LDA (default: k=10, alpha=beta=1/k)", runs, [(time.perf_counter() - t0) / args.runs],
                  {"params": default_params.model_dump()})

    # ---- LDADE -----------------------------------------------------------------------------
    if "ldade" not in args.skip:
        t0 = time.perf_counter()
        n_eval = [0]

        def on_eval(rec: dict) -> None:
            n_eval[0] += 1
            log(f"  LDADE eval {n_eval[0]}: k={rec['n_topics']} alpha={rec['alpha']:.3f} eta={rec['eta']:.3f} "
                f"median stability={rec['median_stability']:.3f} diversity={rec['diversity']:.3f} "
                f"objective={rec['objective']:.3f}")

        tuned = tune_ldade(dt, vocab, lcfg, on_eval=on_eval)
        tune_s = time.perf_counter() - t0
        log(f"LDADE best {tuned.params.model_dump()} objective {tuned.score:.3f} ({lcfg.objective}) in {tune_s:.0f}s")
        t0 = time.perf_counter()
        runs, _ = shuffled_runs(dt, vocab, tuned.params, args.runs, seed=2000, top_n=10, max_iter=lcfg.max_iter)
        summarise("LDADE-tuned LDA", runs, [(time.perf_counter() - t0) / args.runs],
                  {"params": tuned.params.model_dump(), "tune_seconds": tune_s, "tune_evaluations": len(tuned.evaluations),
                   "tune_objective": tuned.score, "objective": lcfg.objective})

    result = {"collection": {"documents": len(texts), "skillspan_postings": n_posts,
                             "esco_occupations": len(texts) - n_posts, "vocabulary": len(vocab)},
              "runs": args.runs, "config": {"topics": tcfg.model_dump(), "lda": lcfg.model_dump()},
              "methods": list(rows.values())}
    (out_dir / "topics.json").write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    table = markdown_table(rows)
    (out_dir / "topics.md").write_text(table + "\n", encoding="utf-8")
    print(table)
    if rows:
        best = max(rows.values(), key=lambda r: r["npmi"])
        print(f"\nMost coherent (NPMI): {best['method']}")
        if "LDADE-tuned LDA" in rows and any(k.startswith("LDA (default") for k in rows):
            d = next(v for k, v in rows.items() if k.startswith("LDA (default"))
            t = rows["LDADE-tuned LDA"]
            print(f"Stability default LDA {d['stability']:.3f} -> LDADE {t['stability']:.3f}")
    log(f"wrote {out_dir / 'topics.json'}")
    return result


def cached_embeddings(paras: list[str], encoder, cache_dir: Path) -> tuple[np.ndarray, float]:  # noqa: ANN001
    """Paragraph embeddings, cached on disk by content and encoder (re-runs skip the slow part).

    The reported embedding time is the time measured when the cache entry was made."""
    import hashlib

    key = hashlib.sha256(("\x00".join([encoder.path, *paras])).encode("utf-8")).hexdigest()[:16]
    f = cache_dir / f"emb-{key}.npz"
    if f.exists():
        with np.load(f) as z:
            return z["emb"], float(z["seconds"])
    t0 = time.perf_counter()
    emb = encoder.encode(paras)
    secs = time.perf_counter() - t0
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.savez(f, emb=emb, seconds=secs)
    return emb, secs


def markdown_table(rows: dict[str, dict]) -> str:
    head = "| method | topics | NPMI | diversity | stability (mean Jaccard) | fit time (s) | extra |\n|---|---|---|---|---|---|---|"
    lines = [head]
    for r in rows.values():
        extra = []
        if "tune_seconds" in r:
            extra.append(f"tuning {r['tune_seconds']:.0f}s, {r['tune_evaluations']} evals, params {r['params']}")
        if "embed_seconds" in r:
            extra.append(f"incl. embedding {r['embed_seconds']:.0f}s of {r['n_paragraphs']} paragraphs")
        lines.append(f"| {r['method']} | {r['n_topics']:.1f} | {r['npmi']:.4f} | {r['diversity']:.3f} | "
                     f"{r['stability']:.3f} | {r['fit_seconds']:.1f} | {'; '.join(extra)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
