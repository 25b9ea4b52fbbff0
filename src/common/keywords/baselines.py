"""Unsupervised keyword baselines on the same data and metric as the tagger.

Each baseline ranks candidate phrases of a text and keeps the top ``rate x words`` of them:

* ``tfidf``   - TF-IDF of word 1-3-grams (IDF fitted on the training postings);
* ``yake``    - YAKE (statistical, single-document, no training);
* ``keybert`` - KeyBERT-style: cosine similarity between each candidate phrase's embedding and
  the document's embedding (mean of its line embeddings), with the *same* encoder as the tagger
  (sentence-transformers; a plain HF folder gets mean pooling).

To be scored at span level, every occurrence of a kept phrase becomes a keyword (greedily, best
phrase first, never overlapping), and it is given the type that phrase has most often in the
training gold (else the most frequent type overall): the baselines know nothing else about
Skill vs Knowledge. The one number they learn from labels is ``rate`` (keywords per word),
chosen on a sample of *training* postings for the best span-F1; document-level keyword-set
P/R/F1 is the fairer view of them and is reported too (``common.keywords.evaluate``).

Candidates are whitespace tokens (SkillSpan's tokenisation) normalised with
``normalise_keyword``; n-grams never cross a line, never start or end with a stop word, and
skip de-identification placeholders such as ``<ORGANIZATION>``.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from common.core.types import KEYWORD_TYPES, Keyword, Posting
from common.keywords.windows import line_ids
from common.text.spans import gold_keywords, normalise_keyword, posting_text
from common.text.words import word_tokens

logger = logging.getLogger(__name__)

BASELINES: tuple[str, ...] = ("tfidf", "yake", "keybert")
RATE_GRID: tuple[float, ...] = (0.02, 0.04, 0.06, 0.09, 0.12, 0.16, 0.2, 0.25, 0.3)

Occurrences = dict[str, list[tuple[int, int]]]  # phrase -> [(char start, char end)]


def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


def candidates(text: str, max_n: int = 3) -> Occurrences:
    """Candidate phrases of ``text`` (normalised 1..max_n-grams) with every occurrence's offsets."""
    stop = _stop_words()
    words, offsets = word_tokens(text)
    lines = line_ids(text, offsets)
    norms = []
    for w in words:
        n = normalise_keyword(w)
        norms.append(None if not n or (w.startswith("<") and w.endswith(">")) or not any(c.isalnum() for c in n)
                     else n)
    out: Occurrences = defaultdict(list)
    for i in range(len(words)):
        if norms[i] is None or norms[i] in stop:
            continue
        for n in range(1, max_n + 1):
            j = i + n - 1
            if j >= len(words) or norms[j] is None or lines[j] != lines[i]:
                break
            if norms[j] in stop:
                continue
            out[" ".join(norms[i : j + 1])].append((offsets[i][0], offsets[j][1]))
    return dict(out)


class TypeLexicon:
    """Most frequent gold type of each normalised phrase in the training postings."""

    def __init__(self, postings: Sequence[Posting] = ()) -> None:
        counts: dict[str, Counter] = defaultdict(Counter)
        overall: Counter = Counter()
        for p in postings:
            for kw in gold_keywords(p):
                counts[normalise_keyword(kw.text)][kw.type] += 1
                overall[kw.type] += 1
        self.types = {ph: c.most_common(1)[0][0] for ph, c in counts.items()}
        self.default = overall.most_common(1)[0][0] if overall else KEYWORD_TYPES[0]

    def type_of(self, phrase: str) -> str:
        return self.types.get(phrase, self.default)


class PhraseBaseline:
    """Rank phrases, keep the top ``rate x words`` and mark their occurrences as keywords."""

    name = "phrases"

    def __init__(self, rate: float | None = None, max_n: int = 3) -> None:
        self.rate = rate
        self.max_n = max_n
        self.lexicon = TypeLexicon()

    # subclasses: fit the ranker on training texts and score one text's candidates
    def _fit_ranker(self, texts: list[str]) -> None:
        pass

    def rank(self, text: str, cands: Occurrences) -> list[tuple[str, float]]:
        raise NotImplementedError

    def fit(self, postings: Sequence[Posting], tune_postings: int = 30, seed: int = 13) -> PhraseBaseline:
        """Fit the ranker and type lexicon on training postings; pick ``rate`` when unset."""
        postings = list(postings)
        self.lexicon = TypeLexicon(postings)
        self._fit_ranker([posting_text(p) for p in postings])
        if self.rate is None:
            from common.keywords.evaluate import evaluate_keywords

            rng = np.random.default_rng(seed)
            sample = [postings[i] for i in sorted(rng.permutation(len(postings))[:tune_postings])]
            ranked = [self._ranked(posting_text(p)) for p in sample]
            scores = {}
            for rate in RATE_GRID:
                preds = [self._select(posting_text(p), *r, rate) for p, r in zip(sample, ranked)]
                scores[rate] = evaluate_keywords(sample, preds)["span"]["overall"]["f1"]
            self.rate = max(scores, key=lambda r: scores[r])
            logger.info("%s: rate %.3f chosen on %d training postings (%s)", self.name, self.rate, len(sample), scores)
        return self

    def _ranked(self, text: str) -> tuple[Occurrences, list[tuple[str, float]], int]:
        cands = candidates(text, self.max_n)
        return cands, self.rank(text, cands) if cands else [], len(word_tokens(text)[0])

    def _select(self, text: str, cands: Occurrences, ranked: list[tuple[str, float]], n_words: int,
                rate: float) -> list[Keyword]:
        k = max(1, round(rate * n_words))
        taken: list[tuple[int, int]] = []
        kws: list[Keyword] = []
        top = ranked[:k]
        hi = max((s for _, s in top), default=1.0)
        lo = min((s for _, s in top), default=0.0)
        for phrase, score in top:
            conf = 1.0 if hi == lo else (score - lo) / (hi - lo)
            for s, e in cands.get(phrase, []):
                if any(s < te and e > ts for ts, te in taken):
                    continue
                taken.append((s, e))
                kws.append(Keyword(start=s, end=e, text=text[s:e], type=self.lexicon.type_of(phrase),
                                   score=float(np.clip(conf, 0.0, 1.0))))
        return sorted(kws, key=lambda kw: (kw.start, kw.end, kw.type))

    def extract(self, texts: list[str]) -> list[list[Keyword]]:
        """Keywords of each text, over the original string (same shape as ``KeywordTagger``)."""
        rate = self.rate if self.rate is not None else 0.05
        return [self._select(t, *self._ranked(t), rate) for t in texts]


class TfidfBaseline(PhraseBaseline):
    """Top TF-IDF n-grams; IDF from the training postings (sublinear TF)."""

    name = "tfidf"

    def _fit_ranker(self, texts: list[str]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.vectorizer = TfidfVectorizer(
            analyzer=lambda t: [ph for ph, occ in candidates(t, self.max_n).items() for _ in occ],
            sublinear_tf=True,
        )
        self.vectorizer.fit(texts)

    def rank(self, text: str, cands: Occurrences) -> list[tuple[str, float]]:
        row = self.vectorizer.transform([text]).tocoo()
        names = self.vectorizer.get_feature_names_out()
        scores = {names[j]: float(v) for j, v in zip(row.col, row.data)}
        # phrases never seen in training get the largest IDF: score them as such
        idf_max = float(self.vectorizer.idf_.max())
        for ph, occ in cands.items():
            if ph not in scores:
                scores[ph] = (1 + np.log(len(occ))) * idf_max
        norm = np.sqrt(sum(v * v for v in scores.values())) or 1.0
        return sorted(((p, s / norm) for p, s in scores.items()), key=lambda x: -x[1])


class YakeBaseline(PhraseBaseline):
    """YAKE keyphrases (lower YAKE score = better), matched back to the text's candidates."""

    name = "yake"

    def rank(self, text: str, cands: Occurrences) -> list[tuple[str, float]]:
        import yake

        top = max(20, len(cands))
        extractor = yake.KeywordExtractor(lan="en", n=self.max_n, top=top, dedup_lim=0.9)
        out = []
        seen = set()
        for phrase, score in extractor.extract_keywords(text):
            norm = " ".join(n for n in (normalise_keyword(w) for w in phrase.split()) if n)
            if norm in cands and norm not in seen:
                seen.add(norm)
                out.append((norm, 1.0 / (1.0 + float(score))))
        return out


class KeyBertBaseline(PhraseBaseline):
    """KeyBERT-style: cosine(candidate embedding, document embedding) with the tagger's encoder."""

    name = "keybert"

    def __init__(self, encoder: str | None = None, rate: float | None = None, max_n: int = 3,
                 device: str | None = None, batch_size: int = 128) -> None:
        super().__init__(rate, max_n)
        self.encoder = encoder
        self.device = device
        self.batch_size = batch_size
        self._model: Any = None
        self._cache: dict[str, np.ndarray] = {}

    def _embedder(self) -> Any:
        if self._model is None:
            from common.text.embeddings import Encoder

            self._model = Encoder(self.encoder, self.device, max_length=None, batch_size=self.batch_size)
        return self._model

    def _embed(self, phrases: list[str]) -> np.ndarray:
        todo = [p for p in dict.fromkeys(phrases) if p not in self._cache]
        if todo:
            vecs = self._embedder().encode(todo)
            self._cache.update(zip(todo, vecs))
            if len(self._cache) > 200_000:  # bound memory on long runs
                self._cache.clear()
        return np.stack([self._cache[p] for p in phrases]) if phrases else np.zeros((0, 1))

    def rank(self, text: str, cands: Occurrences) -> list[tuple[str, float]]:
        lines = [ln for ln in text.split("\n") if ln.strip()]
        doc = self._embedder().encode(lines).mean(0)
        doc = doc / (np.linalg.norm(doc) or 1.0)
        phrases = list(cands)
        sims = self._embed(phrases) @ doc
        return sorted(zip(phrases, map(float, sims)), key=lambda x: -x[1])


def make_baseline(name: str, encoder: str | None = None, rate: float | None = None) -> PhraseBaseline:
    """A baseline by name (``tfidf``, ``yake``, ``keybert``); call ``fit(train_postings)`` next."""
    if name == "tfidf":
        return TfidfBaseline(rate=rate)
    if name == "yake":
        return YakeBaseline(rate=rate)
    if name == "keybert":
        return KeyBertBaseline(encoder=encoder, rate=rate)
    raise ValueError(f"unknown baseline {name!r}; choose one of {', '.join(BASELINES)}")
