"""A span -> skill cross-encoder trained by distant supervision, as a reranker and as the abstention
statistic, scored the way ``linking_transfer.py`` scores the linker: everything chosen on one
Decorte validation file and scored on the other (TECH -> HOUSE, HOUSE -> TECH), beside in-file.

Why: the linker's R@1 sits 1-2 spans under 0.70 across files and its threshold does not transfer
(chosen on TECH it leaves 0.368 of HOUSE's not-present spans unlinked). A cross-encoder reads the
span and the skill's label together, so it might tell "develop global policies" from *develop
trade policies* where the bi-encoder's cosine cannot. No evaluation data trains it:

- queries: ESCO alternative labels (``--queries``, two at most per skill, all 13,125 skills that
  have them); positive: the label of their own skill;
- negatives: the three nearest other skills in the linker's own dense index (two nearest, one of
  the next six): the close neighbours a span that ESCO lacks is linked to by mistake;
- MiniLM (the default encoder) with a one-logit head, binary cross-entropy, one pass, lr 3e-5.

Rows: the linker alone (the brevity step of ``linking_transfer.py``); the reranked top ``K``
(fused + ``lam`` x the cross-encoder's probability, ``lam`` chosen on the choice file by R@1);
abstention on ``(1 - mix) x fused + mix x probability`` of the chosen skill (the threshold by the
linker's rule, ``leave_unlinked`` of the choice file's not-present spans), for each ``mix``.

    python benchmarks/linking_reranker.py --threads 2 --out /tmp/span-ce     # trains (10 min, 2 cores)
    python benchmarks/linking_reranker.py --cross-encoder /tmp/span-ce        # scores a trained one
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from linking_transfer import FILES, SPAN_STEPS, _linker, choose_weights, r1_then_mrr

K = 10
LAMBDAS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)
MIXES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 1.0)


def distant_pairs(lk, tax, n_queries: int, seed: int = 0) -> list[tuple[str, str, float]]:
    """(alternative label, skill label, 1/0): each query's own skill and three dense neighbours."""
    from common.linking.linker import _max_by_owner

    rng = random.Random(seed)
    queries = []
    for i, row in enumerate(tax.skills.itertuples(index=False)):
        alts = [x for x in row.alt_labels if x and x.lower() != row.label.lower()]
        queries += [(a, i) for a in rng.sample(alts, min(2, len(alts)))]
    queries = rng.sample(queries, min(n_queries, len(queries)))
    Q = lk.encoder().encode([q for q, _ in queries], progress=True)
    D = _max_by_owner(Q @ lk.short_emb.T, lk._short_starts)
    out = []
    for (q, own), row in zip(queries, D, strict=True):
        near = [int(j) for j in np.argsort(-row)[:10] if j != own][:8]
        out.append((q, lk.labels[own], 1.0))
        out += [(q, lk.labels[j], 0.0) for j in near[:2] + rng.sample(near[2:], 1)]
    rng.shuffle(out)
    return out


def train(pairs: list[tuple[str, str, float]], encoder: str, out: Path, threads: int) -> Path:
    import torch
    from tqdm import tqdm
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(encoder)
    model = AutoModelForSequenceClassification.from_pretrained(encoder, num_labels=1)
    bs, steps = 32, len(pairs) // 32
    opt = torch.optim.AdamW(model.parameters(), lr=3e-5, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: min(1.0, (i + 1) / (0.1 * steps)) * max(0.0, (steps - i) / steps))
    loss_fn = torch.nn.BCEWithLogitsLoss()
    model.train()
    for i in tqdm(range(steps), desc="cross-encoder"):
        b = pairs[i * bs:(i + 1) * bs]
        enc = tok([x[0] for x in b], [x[1] for x in b], padding=True, truncation=True, max_length=48,
                  return_tensors="pt")
        loss = loss_fn(model(**enc).logits.squeeze(-1), torch.tensor([x[2] for x in b]))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def probabilities(folder: Path, queries: list[str], cands: np.ndarray, labels: list[str]) -> np.ndarray:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    pairs = [(q, labels[j]) for q, row in zip(queries, cands, strict=True) for j in row]
    logits = []
    with torch.no_grad():
        for b in range(0, len(pairs), 256):
            x = pairs[b:b + 256]
            enc = tok([p[0] for p in x], [p[1] for p in x], padding=True, truncation=True, max_length=48,
                      return_tensors="pt")
            logits.append(model(**enc).logits.squeeze(-1).numpy())
    return 1.0 / (1.0 + np.exp(-np.concatenate(logits).reshape(cands.shape)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cross-encoder", type=Path, help="A trained cross-encoder folder (else one is trained).")
    ap.add_argument("--out", type=Path, default=Path("span-cross-encoder"), help="Where a trained one is saved.")
    ap.add_argument("--queries", type=int, default=12000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--leave-unlinked", type=float, default=0.55)
    args = ap.parse_args()
    import logging

    logging.basicConfig(level=logging.WARNING)
    from common.core.config import encoder_or_default
    from common.linking.evaluate import (
        NOT_PRESENT,
        gold_rows,
        leave_unlinked_threshold,
        link_metrics,
        load_validation,
    )
    from common.linking.taxonomy import load_taxonomy

    tax, val = load_taxonomy(), load_validation()
    lk = _linker("runs", tax, args.threads, "onnx")
    folder = args.cross_encoder
    if folder is None:
        t0 = time.time()
        pairs = distant_pairs(lk, tax.with_names("esco"), args.queries)
        folder = train(pairs, encoder_or_default(None), args.out, args.threads)
        print(f"cross-encoder: {len(pairs)} pairs, trained in {time.time() - t0:.0f} s -> {folder}")
    parts = {n: lk.components(df["query"].tolist()) for n, df in val.items()}
    gold = {n: gold_rows(lk, df) for n, df in val.items()}
    nps = {n: (df["label"] == NOT_PRESENT).to_numpy() for n, df in val.items()}
    grid = SPAN_STEPS["+ brevity prior (today's linker)"][1]

    chosen = {n: choose_weights(lk, parts[n], val[n], grid) for n in FILES}
    cache: dict = {}

    def scored(n, c, lam):
        """(reranked scores, the cross-encoder's probability of each span's best) with ``c``'s weights."""
        if (n, c) not in cache:
            S = lk.fuse(parts[n], chosen[c])
            cand = np.argsort(-S, axis=1)[:, :K]
            queries = [" ".join(str(q).split()) for q in val[n]["query"]]
            cache[n, c] = S, cand, probabilities(folder, queries, cand, lk.labels)
        S, cand, p = cache[n, c]
        out = np.full_like(S, -1.0)
        r = np.arange(len(S))[:, None]
        out[r, cand] = S[r, cand] + lam * p
        best = out.argmax(1)
        p_best = np.array([p[i][list(cand[i]).index(best[i])] for i in range(len(best))])
        return out, p_best

    print("| row | chosen on -> scored on | R@1 | MRR@10 | linked right | not-present unlinked |")
    print("|---|---|---|---|---|---|")
    for c, s in [*((f, f) for f in FILES), *itertools.permutations(FILES)]:
        lam = max(LAMBDAS, key=lambda la: r1_then_mrr(link_metrics(scored(c, c, la)[0], val[c], gold[c], 0.0)))
        for row, lam_row in (("linker (brevity step)", 0.0), (f"reranked, lam {lam:g}", lam)):
            Sc, _ = scored(c, c, lam_row)
            Ss, _ = scored(s, c, lam_row)
            thr = leave_unlinked_threshold(Sc.max(1), nps[c], args.leave_unlinked)
            m = link_metrics(Ss, val[s], gold[s], thr)
            print(f"| {row} | {c} -> {s} | {m['r_at_1']:.3f} | {m['mrr_at_10']:.3f} | {m['linked_correct']:.3f} | "
                  f"{m['unlinked_not_present']:.3f} |")
        Sc, pc = scored(c, c, lam)
        Ss, ps = scored(s, c, lam)
        for mix in MIXES:
            thr = leave_unlinked_threshold((1 - mix) * Sc.max(1) + mix * pc, nps[c], args.leave_unlinked)
            linked = (1 - mix) * Ss.max(1) + mix * ps >= thr
            g, best = gold[s], Ss.argmax(1)
            right = np.mean(linked[g >= 0] & (best[g >= 0] == g[g >= 0]))
            print(f"| abstain on mix {mix:g} (reranked) | {c} -> {s} | - | - | {right:.3f} | "
                  f"{np.mean(~linked[nps[s]]):.3f} |")


if __name__ == "__main__":
    main()
