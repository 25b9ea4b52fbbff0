"""Every ESCO skill a posting names or implies: span links and sentence-level retrieval, fused.

Why sentences as well as spans: a fifth to a quarter of the sentences annotators tie to an ESCO
skill hold no keyword the tagger finds ("you will lead a team of five" implies *manage staff*), so
ranking only the candidates of the extracted keywords scores those sentences zero. Each sentence
is therefore scored against every skill twice:

- ``span`` evidence: the linker's fused score (``ESCOLinker.scores``) of each keyword in the
  sentence, the best keyword per skill (zero in a sentence without keywords);
- ``sentence`` evidence: the cosine between the sentence and the skill's long text, mixed
  (``text_weight``) with its best cosine against the skill's short names, both in the space of
  the linker's sentence retriever (``common.linking.retriever``: trained by distant supervision)
  when it has one, else of its own encoder.

The sentence's ranking is ``(1 - sentence_weight) * span + sentence_weight * sentence``. A skill
is reported for the sentence when a keyword there is linked to it (*named*: the linker's own
threshold) or when it is among the sentence's ``per_sentence`` best and its sentence evidence
reaches ``implied_threshold`` (*implied*). Both weights and the threshold are chosen on one
Decorte validation file and checked on the other (``benchmarks/linking.py``), so that they hold on a
site they were not chosen on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from common.core.config import StrictModel
from common.core.types import Keyword
from common.linking.phrases import phrase_key, unique_phrases
from common.text.sentences import SentenceSpan, split_sentences

# The sentence weight and implied threshold chosen on the validation files for each sentence encoder
# (benchmarks/linking_transfer.py): the trained retriever ranks a sentence well enough to weigh it
# as much as the keywords; plain MiniLM does best at 0.3 and needs a higher bar for implied skills.
BY_ENCODER: dict[bool, dict[str, float]] = {
    True: {"sentence_weight": 0.5, "implied_threshold": 0.45},   # with the trained retriever
    False: {"sentence_weight": 0.3, "implied_threshold": 0.53},  # the linker's own MiniLM
}


class SkillRankConfig(StrictModel):
    """How sentence and span evidence are fused (``LinkerConfig.skills``)."""

    sentence_weight: float | None = Field(None, ge=0, le=1, description="Weight of the sentence evidence against "
                                          "the keywords' span links in a sentence's ranking. null: 0.5 when the "
                                          "linker has its trained retriever (the best RP@5 on both validation files "
                                          "for two retriever seeds), 0.3 when it has none (plain MiniLM's best).")
    text_weight: float = Field(0.3, ge=0, le=1, description="Sentence evidence: weight of the skill's long text "
                               "against its closest short name.")
    per_sentence: int = Field(5, ge=1, description="Skills a sentence may imply (its best by the fused ranking).")
    implied_threshold: float | None = Field(None, ge=0, le=1, description="Sentence evidence a skill no keyword "
                                            "names needs to be reported as implied: the lowest that leaves 55 % of "
                                            "the validation sentences whose spans ESCO lacks without an implied "
                                            "skill, in each file. null: 0.45 with the trained retriever (the rule on "
                                            "TECH and HOUSE with the sentence gate, benchmarks/posting_skills.py; "
                                            "0.50 before it), 0.53 without (benchmarks/linking_transfer.py).")
    top_k: int = Field(20, ge=1, description="Skills reported per posting, best first.")
    gate: bool = Field(True, description="Skip sentences that carry no skill (common.linking.sentence_gate: fitted "
                       "on SkillSpan train, threshold keeping 95 % of SkillSpan dev's skill-bearing sentences): they "
                       "imply nothing, their keywords keep their links.")
    hub_weight: float = Field(0.0, ge=0, le=2, description="Hub correction: the sentence evidence less this x "
                              "(the skill's background level - the mean level), the level being its mean top-10 "
                              "evidence over ordinary job sentences (common.linking.hubness); 0: none.")

    def for_encoder(self, trained_retriever: bool) -> SkillRankConfig:
        """This config with its unset fields filled for the sentence encoder the linker has: a
        linker built with ``--no-retriever`` keeps the weights chosen for plain MiniLM."""
        unset = {k: v for k, v in BY_ENCODER[trained_retriever].items() if getattr(self, k) is None}
        return self.model_copy(update=unset) if unset else self


class SkillEvidence(BaseModel):
    kind: Literal["keyword", "sentence"] = Field(description="keyword: a keyword span linked to the skill; "
                                                 "sentence: the sentence that implies it.")
    text: str
    start: int = Field(ge=0, description="Character offset in the posting.")
    end: int = Field(gt=0)


class PostingSkill(BaseModel):
    uri: str = Field(description="The ESCO skill's URI.")
    label: str = Field(description="Its ESCO preferred label.")
    score: float = Field(description="The fused sentence ranking score (span and sentence evidence), best "
                         "sentence of the posting.")
    implied: bool = Field(description="True when no keyword is linked to the skill: the sentence implies it.")
    evidence: list[SkillEvidence] = Field(description="The keyword span(s) linked to it, or the sentence.")


@dataclass
class SentenceRanking:
    """Per sentence (rows) and skill (columns): the fused ``score``, the ``sentence`` evidence, and
    the skills its keywords are linked to (``named``, with the keywords); ``links``: each scored
    phrase's link (by ``phrase_key``), so that the keywords' own links need no second scoring."""

    score: np.ndarray
    sentence: np.ndarray
    named: list[dict[int, list[Keyword]]]
    links: dict[str, Any] = field(default_factory=dict)
    implied_threshold: float = BY_ENCODER[True]["implied_threshold"]


class PostingLinks(BaseModel):
    """One linking pass over a posting: each keyword's ESCO link (in the keywords' order; None when
    left unlinked) and the posting's skills."""

    links: list[Any] = Field(description="Per keyword: common.linking.linker.LinkMatch, or None.")
    skills: list[PostingSkill]


def sentence_evidence(linker: Any, sentences: Sequence[str], cfg: SkillRankConfig, correct: bool = True) -> np.ndarray:
    """(sentences x skills): ``text_weight`` * cosine with the long text + the rest * best name
    cosine, less the hub correction (``common.linking.hubness``) when ``correct``."""
    from common.linking.hubness import correction
    from common.linking.linker import _max_by_owner

    n = len(sentences)
    if n == 0:
        return np.zeros((0, len(linker.uris)), dtype=np.float32)
    E = linker.sentence_encoder().encode([" ".join(s.split()) for s in sentences])
    short_emb, text_emb = linker.sentence_index()
    out = cfg.text_weight * (E @ text_emb.T)
    if cfg.text_weight < 1:
        out += (1 - cfg.text_weight) * _max_by_owner(E @ short_emb.T, linker._short_starts)
    if correct:
        out -= correction(getattr(linker, "hub_levels", None), cfg.hub_weight)
        gate = getattr(linker, "sentence_gate", None)
        if cfg.gate and gate is not None:
            out[~gate.keeps(E)] -= 1.0  # below any implied threshold; the order within the sentence is kept
    return out.astype(np.float32)


def rank_sentences(linker: Any, sentences: Sequence[str], keywords: Sequence[Sequence[Keyword]],
                   cfg: SkillRankConfig) -> SentenceRanking:
    """Fuse each sentence's keyword links with the sentence's own similarity to every skill.
    Each distinct keyword phrase (``common.linking.phrases``) is scored once, every sentence encoded once."""
    if len(keywords) != len(sentences):
        raise ValueError(f"{len(keywords)} keyword lists for {len(sentences)} sentences")
    cfg = cfg.for_encoder(linker.retriever is not None)
    phrases = unique_phrases(k.text for ks in keywords for k in ks)
    P = linker.scores(phrases) if phrases else np.zeros((0, len(linker.uris)), dtype=np.float32)
    row = {phrase_key(p): i for i, p in enumerate(phrases)}
    links = dict(zip(row, linker.best_links(P), strict=True))
    span = np.zeros((len(sentences), len(linker.uris)), dtype=np.float32)
    named: list[dict[int, list[Keyword]]] = []
    for i, ks in enumerate(keywords):
        keys = [phrase_key(k.text) for k in ks]
        if keys:
            span[i] = P[[row[key] for key in keys]].max(axis=0)
        found: dict[int, list[Keyword]] = {}
        for k, key in zip(ks, keys, strict=True):
            if links[key] is not None:
                found.setdefault(linker.uri_row(links[key].uri), []).append(k)
        named.append(found)
    sent = sentence_evidence(linker, sentences, cfg)
    score = (1 - cfg.sentence_weight) * span + cfg.sentence_weight * sent
    return SentenceRanking(score=score, sentence=sent, named=named, links=links,
                           implied_threshold=float(cfg.implied_threshold))


def reported(ranking: SentenceRanking, i: int, cfg: SkillRankConfig,
             implied_threshold: float | None = None) -> tuple[list[int], list[int]]:
    """Sentence ``i``'s reported skills: (named, implied), each best first; ``implied_threshold``
    overrides the one the ranking was made with."""
    thr = ranking.implied_threshold if implied_threshold is None else implied_threshold
    row = ranking.score[i]
    k = min(cfg.per_sentence, len(row))
    top = np.argpartition(-row, k - 1)[:k] if k else np.zeros(0, dtype=np.int64)
    top = top[np.argsort(-row[top], kind="stable")]
    named = sorted(ranking.named[i], key=lambda j: -row[j])
    implied = [int(j) for j in top if j not in ranking.named[i] and ranking.sentence[i, j] >= thr]
    return named, implied


def assign_keywords(sentences: Sequence[SentenceSpan], keywords: Sequence[Keyword]) -> list[list[Keyword]]:
    """Each keyword to the sentence holding its start (keywords never span a line end)."""
    out: list[list[Keyword]] = [[] for _ in sentences]
    starts = np.array([s.start for s in sentences], dtype=np.int64)
    for k in keywords:
        i = int(np.searchsorted(starts, k.start, side="right")) - 1
        if 0 <= i < len(sentences) and k.start < sentences[i].end:
            out[i].append(k)
    return out


def posting_skills(linker: Any, text: str, keywords: Sequence[Keyword], cfg: SkillRankConfig | None = None,
                   chunk: int = 128) -> list[PostingSkill]:
    """The posting's ESCO skills, best first (``link_posting``'s skills)."""
    return link_posting(linker, text, keywords, cfg, chunk).skills


def link_posting(linker: Any, text: str, keywords: Sequence[Keyword], cfg: SkillRankConfig | None = None,
                 chunk: int = 128) -> PostingLinks:
    """Each keyword's ESCO link and the posting's ESCO skills in one pass: every phrase is scored
    once for both. Skills: named ones with their keyword spans, implied ones with the sentence that
    implies them; a skill found in several sentences keeps its best score. Sentences are ranked
    ``chunk`` at a time, so a 100,000-character posting (about 2,000 lines) holds a few tens of MB
    of scores rather than gigabytes."""
    cfg = cfg or linker.cfg.skills
    sentences = split_sentences(text)
    by_sentence = assign_keywords(sentences, keywords)
    found: dict[int, PostingSkill] = {}
    links: dict[str, Any] = {}
    for lo in range(0, len(sentences), chunk):
        part = sentences[lo : lo + chunk]
        ranking = rank_sentences(linker, [s.text for s in part], by_sentence[lo : lo + chunk], cfg)
        links.update(ranking.links)
        for i, sent in enumerate(part):
            named, implied = reported(ranking, i, cfg)
            for j in named:
                ev = [SkillEvidence(kind="keyword", text=k.text, start=k.start, end=k.end) for k in ranking.named[i][j]]
                _keep(found, j, linker, float(ranking.score[i, j]), False, ev)
            for j in implied:
                ev = [SkillEvidence(kind="sentence", text=sent.text, start=sent.start, end=sent.end)]
                _keep(found, j, linker, float(ranking.score[i, j]), True, ev)
    rest = unique_phrases(k.text for k in keywords if phrase_key(k.text) not in links)  # outside every sentence
    if rest:
        links.update(zip(map(phrase_key, rest), linker.best_links(linker.scores(rest)), strict=True))
    skills = cap_implied(sorted(found.values(), key=lambda s: (-s.score, s.uri)), cfg.per_sentence)[: cfg.top_k]
    return PostingLinks(links=[links[phrase_key(k.text)] for k in keywords], skills=skills)


def cap_implied(skills: list[PostingSkill], floor: int) -> list[PostingSkill]:
    """Never more implied than named skills in a posting, beyond ``floor`` (what one sentence may
    imply): the strongest implied ones stay. A long posting's generic sentences each imply a few
    weak skills; without a cap they outnumber what it names (58 % of the skills reported for the
    LA bulletins were implied), and the same few hub skills recur across postings."""
    allowed = max(sum(not s.implied for s in skills), floor)
    out, n = [], 0
    for s in skills:  # best first
        if s.implied:
            n += 1
            if n > allowed:
                continue
        out.append(s)
    return out


def _keep(found: dict[int, PostingSkill], j: int, linker: Any, score: float, implied: bool,
          evidence: list[SkillEvidence]) -> None:
    """Merge one sentence's finding into the posting's: a named skill stays named with all its
    keyword spans; the best score wins."""
    old = found.get(j)
    if old is None:
        found[j] = PostingSkill(uri=linker.uris[j], label=linker.labels[j], score=round(score, 4), implied=implied,
                                evidence=evidence)
        return
    if old.implied and not implied:
        old.implied, old.evidence = False, evidence
    elif not old.implied and not implied:
        old.evidence += evidence
    old.score = round(max(old.score, score), 4)
