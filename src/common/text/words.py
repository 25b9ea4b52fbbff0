"""The one word splitter: text as people write it, split the way SkillSpan's tokens are.

SkillSpan is pre-tokenised (``We need Python , SQL and AWS ( EC2 ) .``), so a whitespace split
was enough for its dev set, but a posting pasted by a person reads ``We need Python, SQL and
AWS (EC2).`` and whitespace tokens made keywords such as ``Python,`` and ``AWS).``. Training,
inference, evaluation and the baselines all split words here, with character offsets into the
original string:

* punctuation is split off the ends of a word: ``, . ; : ! ? ) ] } " … %`` and a possessive
  ``'s`` at the end, ``( [ { " $`` at the start, and a comma between two words
  (``Python,SQL``) but not between digits (``1,000``);
* what people write as one name stays whole: ``C++``, ``C#``, ``.NET``, ``Node.js``, ``CI/CD``,
  ``24/7``, ``3+``, ``e-mail``, e-mail addresses and URLs (their trailing sentence punctuation
  is still split off).

Hand-written rather than a tokenizer library on purpose: spaCy's or NLTK's tokenisers split
``C++``/``.NET``/``CI/CD`` and pull in models; the rules above are exactly SkillSpan's
convention and fit in a page, and ``tests/unit/test_words.py`` pins them.
"""

from __future__ import annotations

import re

_CHUNK = re.compile(r"\S+")
_URL = re.compile(r"(?i)(?:https?://|www\.)\S+")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_OPEN = set("([{\"“$")
_CLOSE = set(",.;:!?)]}\"”…%")
_POSSESSIVE = ("'s", "’s", "'S", "’S")
_WORD_COMMA = re.compile(r"(?<=[^\W\d_]),(?=[^\W\d_])")  # "Python,SQL" but not "1,000"
_PUNCT_ONLY = re.compile(r"^[^\w+#]+$")


def split_words(text: str) -> list[tuple[int, int]]:
    """Character offsets ``(start, end)`` of the words of ``text``, in order."""
    out: list[tuple[int, int]] = []
    for m in _CHUNK.finditer(text):
        out.extend(_split_chunk(text, m.start(), m.end()))
    return out


def word_tokens(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """The words of ``text`` and their offsets (the same shape as ``whitespace_tokens``)."""
    offsets = split_words(text)
    return [text[s:e] for s, e in offsets], offsets


def is_punctuation(word: str) -> bool:
    """A word made only of punctuation (``,`` ``)`` ``...`` ``-``); ``C++``, ``#`` and ``+`` are not
    stripped from keywords (``+`` and ``#`` belong to names such as ``C++`` and ``C#``)."""
    return bool(_PUNCT_ONLY.match(word))


def _protected_end(chunk: str) -> int:
    """Length of a URL or e-mail address at the start of ``chunk`` without trailing punctuation, else 0."""
    m = _URL.match(chunk) or _EMAIL.match(chunk)
    if not m:
        return 0
    end = m.end()
    while end > 0 and chunk[end - 1] in _CLOSE:
        end -= 1
    return end


def _split_chunk(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split one whitespace chunk ``text[start:end]`` into words."""
    head: list[tuple[int, int]] = []
    while end - start > 1 and text[start] in _OPEN:
        head.append((start, start + 1))
        start += 1
    tail: list[tuple[int, int]] = []
    keep = _protected_end(text[start:end])
    while end - start > max(1, keep):
        chunk = text[start:end]
        if chunk.endswith(_POSSESSIVE) and end - start > 2:
            tail.append((end - 2, end))
            end -= 2
        elif chunk[-1] in _CLOSE:
            tail.append((end - 1, end))
            end -= 1
        else:
            break
    middle = _split_word_commas(text, start, end) if not keep else [(start, end)]
    return head + middle + tail[::-1]


def _split_word_commas(text: str, start: int, end: int) -> list[tuple[int, int]]:
    out, pos = [], start
    for m in _WORD_COMMA.finditer(text, start, end):
        out += [(pos, m.start()), (m.start(), m.end())]
        pos = m.end()
    out.append((pos, end))
    return [(s, e) for s, e in out if e > s]


_NO_SPACE_BEFORE = {",", ".", ";", ":", "!", "?", ")", "]", "%", "'s", "’s"}
_NO_SPACE_AFTER = {"(", "[", "$"}


def rejoin_tokens(tokens: list[str], base: int = 0) -> tuple[str, list[tuple[int, int]]]:
    """Tokens joined the way people write them, with each token's offsets (from ``base``): no
    space before ``, . ; : ! ? ) ] %`` and ``'s``, none after ``( [ $``.

    Used to score models on SkillSpan dev as a user's text reads (``Python, SQL (AWS).``) and
    not only on its pre-tokenised form (``Python , SQL ( AWS ) .``).
    """
    parts: list[str] = []
    offsets: list[tuple[int, int]] = []
    pos = base
    for i, tok in enumerate(tokens):
        if i and tok not in _NO_SPACE_BEFORE and tokens[i - 1] not in _NO_SPACE_AFTER:
            parts.append(" ")
            pos += 1
        offsets.append((pos, pos + len(tok)))
        parts.append(tok)
        pos += len(tok)
    return "".join(parts), offsets


# ---- span hygiene: what a keyword may not be, or start or end with ------------------------------
def _words(text: str) -> list[str]:
    """A word list written as one string (reads better than 60 quoted words)."""
    return text.split()


# Function words a keyword never starts or ends with ("and specifications for" -> "specifications").
EDGE_WORDS = frozenset(_words(
    "a an the and or nor but of for to in on at by with from as via per into than & our your their its this "
    "these those such"))
# Words that are never a keyword alone, nor together: function words, and verbs and adverbs too
# generic to name a skill ("use", "deal", "effectively"). Hand-written (about 60 words) rather than a
# stop-word list: sklearn's and spaCy's lists hold "computer", "system" and "interest".
NOT_A_KEYWORD = EDGE_WORDS | frozenset(_words(
    "is are be been being was were will would can could may might must should shall do does did done have has had "
    "use uses used using deal deals dealing make makes making get gets take takes ensure ensures provide provides "
    "perform performs handle handles help helps need needs want able ability well very also etc all any some other "
    "more most new various related relevant following including include includes it we you they them us who which "
    "what when where how work"))


def tidy_span(words: list[str] | tuple[str, ...], s: int, e: int) -> tuple[int, int]:
    """The word range ``[s, e)`` without function words at either end, and empty (``(s, s)``) when
    what is left is only such words or one generic adverb ("effectively"). Case-insensitive."""
    while s < e and words[s].lower() in EDGE_WORDS:
        s += 1
    while e > s and words[e - 1].lower() in EDGE_WORDS:
        e -= 1
    low = [w.lower() for w in words[s:e]]
    if all(w in NOT_A_KEYWORD for w in low) or (len(low) == 1 and low[0].endswith(_ADVERB_ENDINGS)):
        return s, s
    return s, e


# Endings of "-ly" adverbs made from adjectives (effectively, efficiently, quickly, regularly) but
# not of nouns and verbs that end in "ly" (supply, apply, assembly, family).
_ADVERB_ENDINGS = ("ively", "ently", "antly", "ously", "fully", "lessly", "ably", "ibly", "edly", "ingly", "ately",
                   "ctly", "ally", "ckly", "sely", "rly", "ghtly", "ngly", "tely", "ftly", "dly")
