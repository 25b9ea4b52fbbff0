"""Unlabelled job text for distillation: passages, and a teacher's soft labels cached on disk.

Why: a student distilled on SkillSpan train alone sees no text the gold labels have not already
shown it (0.439 against 0.437 without a teacher). ``../shared/data/unlabeled/postings.jsonl``
holds 13x more job text. The teacher (the accurate tier, about 110M parameters) labels it once:
on two CPU cores that is the longest step of a distillation, so the labels are written in shards
and a stopped run resumes at the first missing shard; the student then trains from the cache.

Passages: a posting is split at blank lines into blocks (a section of duties, a requirement) and
blocks repeated across postings (a city's equal-opportunity boilerplate) are kept once; a block of
fewer than ``MIN_WORDS`` words (a heading, a salary line) is dropped. O*NET task statements are one
passage each. The order of passages is fixed by a hash of their text, so "the first 25 %" is the
same sample on every machine and grows by adding, never by reshuffling.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

MIN_WORDS = 4
CACHE_FORMAT = 1
_BLOCK_SPLIT = re.compile(r"\n\s*\n")
_SPACES = re.compile(r"[ \t]+")


@dataclass(frozen=True)
class Passage:
    """One unit of unlabelled text: where it came from and its text."""

    id: str
    source: str
    text: str


def teacher_id(teacher: str | Path) -> str:
    """A teacher's identity: the hash of its head weights (unique to a training run, unchanged when
    its figures are rescored), so a model retrained into the same folder is another teacher; the
    folder's path for anything that is not a tagger folder."""
    from common.keywords.tagger import HEAD_FILE

    head = Path(teacher) / HEAD_FILE
    if head.is_file():
        return hashlib.sha256(head.read_bytes()).hexdigest()[:12]
    return hashlib.sha256(str(Path(teacher).resolve()).encode("utf-8")).hexdigest()[:12]


def default_cache_dir(teacher: str | Path) -> Path:
    """``<data_dir>/cache/teacher-labels/<teacher_id>``."""
    from common.core.settings import get_settings

    return get_settings().cache_dir / "teacher-labels" / teacher_id(teacher)


def passages_from_records(records: Iterable[dict]) -> list[Passage]:
    """Passages of ``{"id", "source", "text"}`` records: blocks split at blank lines, runs of spaces
    folded, exact repeats and blocks under ``MIN_WORDS`` words dropped, in a stable hashed order."""
    seen: set[str] = set()
    out: list[Passage] = []
    for rec in records:
        text = str(rec.get("text") or "")
        for b, block in enumerate(_BLOCK_SPLIT.split(text)):
            block = "\n".join(_SPACES.sub(" ", line).strip() for line in block.strip().splitlines()).strip()
            key = block.lower()
            if len(block.split()) < MIN_WORDS or key in seen:
                continue
            seen.add(key)
            out.append(Passage(f"{rec.get('id', '?')}#{b}", str(rec.get("source", "")), block))
    return sorted(out, key=lambda p: hashlib.sha256(p.text.encode("utf-8")).hexdigest())


def read_passages(path: str | Path) -> list[Passage]:
    """``passages_from_records`` of a JSONL file (the format of ``unlabeled/postings.jsonl``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no unlabelled text at {path} (expected JSONL with 'id', 'source', 'text')")
    with path.open(encoding="utf-8") as fh:
        return passages_from_records(json.loads(line) for line in fh if line.strip())


def source_texts(path: str | Path, source: str) -> list[str]:
    """The ``text`` of every record of one ``source`` in a JSONL file such as
    ``unlabeled/postings.jsonl``, as written and in file order; ``[]`` when the file is absent."""
    path = Path(path)
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as fh:
        return [str(r.get("text", "")) for r in (json.loads(line) for line in fh if line.strip())
                if r.get("source") == source]


def take_fraction(passages: Sequence[Passage], fraction: float) -> list[Passage]:
    """The first ``fraction`` of the passages (their order is already a fixed random one)."""
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
    return list(passages[: round(len(passages) * fraction)])


@dataclass(frozen=True)
class SoftLabels:
    """A teacher's per-word label distributions ``[n_words, 2, 3]`` for each passage."""

    passages: list[Passage]
    probs: list[np.ndarray]


class SoftLabelCache:
    """A folder of teacher labels: ``meta.json`` (teacher, passages' digest), ``passages.jsonl`` and
    ``shard-NNNNN.npz`` files of ``shard_size`` passages each, written atomically."""

    def __init__(self, folder: str | Path, shard_size: int = 256) -> None:
        self.folder, self.shard_size = Path(folder), shard_size

    def _shard(self, i: int) -> Path:
        return self.folder / f"shard-{i:05d}.npz"

    def _meta(self, teacher: str, passages: Sequence[Passage]) -> dict:
        digest = hashlib.sha256("\n".join(p.id + "\t" + p.text for p in passages).encode("utf-8")).hexdigest()
        return {"format": CACHE_FORMAT, "teacher": str(Path(teacher).resolve()), "teacher_id": teacher_id(teacher),
                "passages": len(passages), "digest": digest, "shard_size": self.shard_size}

    def _start(self, teacher: str, passages: Sequence[Passage]) -> None:
        """Write the meta and passages, or check that an existing cache was made for the same ones."""
        meta = self._meta(teacher, passages)
        path = self.folder / "meta.json"
        if path.exists():
            old = json.loads(path.read_text(encoding="utf-8"))
            if old != meta:
                raise ValueError(f"{self.folder} holds labels of another teacher or other passages "
                                 f"({old.get('teacher')}, {old.get('passages')} passages); use another --out")
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / "passages.jsonl").open("w", encoding="utf-8") as fh:
            for p in passages:
                fh.write(json.dumps({"id": p.id, "source": p.source, "text": p.text}) + "\n")
        path.write_text(json.dumps(meta, indent=1), encoding="utf-8")

    def missing_shards(self, n_passages: int) -> list[int]:
        n = -(-n_passages // self.shard_size)
        return [i for i in range(n) if not self._shard(i).exists()]

    def fill(self, teacher: str | Path, passages: Sequence[Passage], label: Callable[[list[str]], list[np.ndarray]],
             limit: int | None = None, progress: bool = True) -> None:
        """Label the passages (the first ``limit`` of them) whose shard is missing with
        ``label(texts) -> [n_words, 2, 3] arrays`` (the teacher's ``word_probabilities``); a stopped
        run picks up at the first missing shard, and a larger ``limit`` later adds shards."""
        from tqdm.auto import tqdm

        self._start(str(teacher), passages)
        n = len(passages) if limit is None else min(limit, len(passages))
        todo = self.missing_shards(n)
        total = -(-n // self.shard_size)
        whole = min(total * self.shard_size, len(passages))  # whole shards: may run past ``limit``
        bar = tqdm(total=whole, initial=min((total - len(todo)) * self.shard_size, whole), disable=not progress,
                   desc="teacher labels", unit="passage")
        for i in todo:
            chunk = passages[i * self.shard_size : (i + 1) * self.shard_size]
            probs = label([p.text for p in chunk])
            lengths = np.asarray([len(a) for a in probs], dtype=np.int64)
            flat = np.concatenate(probs).astype(np.float16) if len(probs) else np.zeros((0, 2, 3), np.float16)
            tmp = self._shard(i).with_suffix(".tmp.npz")
            np.savez(tmp, probs=flat, lengths=lengths)
            tmp.replace(self._shard(i))
            bar.update(len(chunk))
        bar.close()

    def load(self, fraction: float = 1.0) -> SoftLabels:
        """The cached passages and their labels (the first ``fraction`` of them); a cache with
        missing shards is an error naming the command that completes it."""
        meta_path = self.folder / "meta.json"
        if not meta_path.exists():
            raise FileNotFoundError(f"no teacher labels in {self.folder}; make them with "
                                    "`jobskills keywords label-unlabeled --teacher DIR --out "
                                    f"{self.folder}`")
        with (self.folder / "passages.jsonl").open(encoding="utf-8") as fh:
            passages = [Passage(**json.loads(line)) for line in fh]
        passages = take_fraction(passages, fraction)
        need = -(-len(passages) // self.shard_size)
        missing = [i for i in self.missing_shards(len(passages)) if i < need]
        if missing:
            raise ValueError(f"{self.folder}: {len(missing)} of {need} shards are not labelled yet; rerun "
                             "`jobskills keywords label-unlabeled` with the same --teacher and --out to finish")
        probs: list[np.ndarray] = []
        for i in range(need):
            with np.load(self._shard(i)) as z:
                flat, lengths = z["probs"].astype(np.float32), z["lengths"]
            probs.extend(np.split(flat, np.cumsum(lengths)[:-1]))
        return SoftLabels(passages, probs[: len(passages)])


def label_unlabeled(teacher: str | Path, source: str | Path, out_dir: str | Path, fraction: float = 1.0,
                    backend: str | None = None, progress: bool = True) -> Path:
    """Label the first ``fraction`` of ``source``'s passages with the ``teacher`` tagger into the
    cache ``out_dir`` (resumable; the cache always lists every passage, so a larger fraction later
    only adds shards). Returns ``out_dir``."""
    from common.keywords.tagger import KeywordTagger

    passages = read_passages(source)
    tagger = KeywordTagger.load(teacher, device="cpu", backend=backend)
    limit = len(take_fraction(passages, fraction))
    logger.info("teacher %s (%s tier, %s): labelling %d of %d passages into %s", teacher, tagger.tier,
                tagger.backend, limit, len(passages), out_dir)
    SoftLabelCache(out_dir).fill(teacher, passages, tagger.word_probabilities, limit=limit, progress=progress)
    return Path(out_dir)
