"""Find a domain's action names in titles and ASR word streams: one pass, many names.

The labeling filters (paper §4.1) ask "which action names occur in this title" and "which
are spoken, and when".  Crawled titles and ASR output spell the same name many ways, so
both the names and the text are reduced to comparison *keys* token by token:

* case and accents: casefolded, accents stripped ("Plié" = "plie");
* punctuation: any non-alphanumeric character separates tokens ("kickflip!" = "kickflip");
  apostrophes are removed inside words ("ollie's" -> "ollies");
* hyphens and spacing of compounds: every way of joining a name's adjacent tokens is
  registered ("heel flip" also matches "heelflip" and "heel-flip"), and in the text two
  adjacent tokens are joined when the result is a name token (Whisper without hotwords
  writes "kick flip" for "kickflip");
* plurals: "-s", "-es" after s/x/ch/sh/z, "-ies", and a final "y"/"ie" are reduced to a
  common key ("squats" = "squat", "ollies" = "ollie", "punches" = "punch"); no other
  stemming, so "jumping jack" and "jump" stay different actions;
* multi-word names: a token trie, matched leftmost-longest without overlaps, so
  "varial kickflip" is one mention, not also a "kickflip".

Why not one regex per action: a domain has up to ~60 names and a crawl millions of clips;
a trie walk costs one dict lookup per token whatever the number of names (see
``bench/train_match.py`` for the measured ratio).  Raw words are tokenized once and cached.

Known limits: numbers are not spelled out ("360 flip" never matches "three sixty flip"),
irregular plurals ("feet") and misrecognitions are not repaired - the transcriber's
hotwords are the remedy for the latter.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import NamedTuple

__all__ = [
    "ActionMatcher",
    "AmbiguousNamesError",
    "Match",
    "fold",
    "key",
    "tokenize",
]

_APOSTROPHES = re.compile(r"['\u2019\u2018`\u00b4]")
_TOKEN = re.compile(r"[^\W_]+")
_END = ""  # trie terminal key (no token key is empty)
_MAX_JOIN_TOKENS = 6  # names longer than this register only their spaced and fully joined forms
_CACHE_LIMIT = 1_000_000  # raw words remembered (bounded memory on huge crawls)


def fold(text: str) -> str:
    """Casefold, strip accents and drop apostrophes (the token-independent part of a key)."""
    text = _APOSTROPHES.sub("", text.casefold())
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return text


def key(token: str) -> str:
    """The comparison key of one folded token: plural and final y/ie reduced.

    Applied to the names and to the text alike, so only equality of keys matters; a
    key need not be a word ("ollie" and "ollies" both become "olli").
    """
    n = len(token)
    if n <= 2:
        return token
    if token.endswith("sses"):
        token = token[:-2]
    elif token.endswith("ies") and n > 4:
        token = token[:-3] + "i"
    elif token.endswith(("xes", "ches", "shes", "zzes")):
        token = token[:-2]
    elif token.endswith("s") and not token.endswith(("ss", "us", "is")):
        token = token[:-1]
    if token.endswith("ie"):
        token = token[:-1]
    elif token.endswith("y") and len(token) > 2:
        token = token[:-1] + "i"
    return token


def tokenize(text: str) -> list[str]:
    """Folded tokens of ``text`` (runs of letters and digits)."""
    return _TOKEN.findall(fold(text))


class AmbiguousNamesError(ValueError):
    """Two action names of one matcher reduce to the same key sequence."""


class Match(NamedTuple):
    """One mention: the action's index in the matcher's names and the span it covers
    (token indices for text, word indices for word streams; ``last`` inclusive)."""

    action: int
    first: int
    last: int


class ActionMatcher:
    """Leftmost-longest multi-pattern matcher over normalized tokens.

    ``names`` are one domain's action names (exact taxonomy spelling); matches report
    the index into ``names``.  Names that normalize to the same tokens cannot be told
    apart in text: that is an error (:class:`AmbiguousNamesError`) for their written
    forms, and a joined variant shared by two names is dropped for both (listed in
    :attr:`dropped_variants`).
    """

    def __init__(self, names: Sequence[str]):
        self.names: list[str] = list(names)
        self._root: dict = {}
        self._vocab_prefixes: set[str] = set()  # prefixes of single name tokens (for joins)
        self._vocab: set[str] = set()  # keys of every name token (any variant)
        self._cache: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[bool, ...], bool]] = {}
        self._join_memo: dict[tuple[str, str], str] = {}
        self.dropped_variants: list[tuple[str, list[str]]] = []
        primary: dict[tuple[str, ...], int] = {}
        variants: dict[tuple[str, ...], set[int]] = {}
        for idx, name in enumerate(self.names):
            toks = tokenize(name)
            if not toks:
                raise ValueError(f"action name {name!r} has no letters or digits to match")
            keys = tuple(key(t) for t in toks)
            if keys in primary and primary[keys] != idx:
                other = self.names[primary[keys]]
                raise AmbiguousNamesError(
                    f"action names {other!r} and {name!r} are the same to the matcher "
                    f"(both read as {' '.join(keys)!r}); rename one in actions.csv"
                )
            primary[keys] = idx
            for var in self._join_variants(toks):
                variants.setdefault(var, set()).add(idx)
        for var, owners in variants.items():
            if len(owners) > 1:
                if var in primary:  # a written form wins over another name's joined variant
                    owners = {primary[var]}
                else:
                    self.dropped_variants.append((" ".join(var), sorted(self.names[i] for i in owners)))
                    continue
            self._insert(var, next(iter(owners)))
        # Join prefixes: a text token that could be the first half of a joined name token.
        # At least 3 characters before the split and 2 after ("kick|flip", "sit|up"): shorter
        # halves ("a", "to") would make almost every word a join candidate.
        for tok_key in self._vocab:
            self._vocab_prefixes.update(tok_key[:i] for i in range(3, len(tok_key) - 1))

    @staticmethod
    def _join_variants(toks: list[str]) -> Iterable[tuple[str, ...]]:
        n = len(toks)
        if n > _MAX_JOIN_TOKENS:
            yield tuple(key(t) for t in toks)
            yield (key("".join(toks)),)
            return
        for cuts in itertools.product((False, True), repeat=n - 1):  # True = join with next
            out, cur = [], toks[0]
            for tok, join in zip(toks[1:], cuts):
                if join:
                    cur += tok
                else:
                    out.append(key(cur))
                    cur = tok
            out.append(key(cur))
            yield tuple(out)

    def _insert(self, keys: tuple[str, ...], idx: int) -> None:
        node = self._root
        for k in keys:
            self._vocab.add(k)
            node = node.setdefault(k, {})
        node[_END] = idx

    # ------------------------------------------------------------------ tokenizing

    def _word_tokens(self, word: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[bool, ...], bool]:
        """A raw word's folded tokens, their keys, which of them could start a match, and
        whether any could (cached: a crawl's vocabulary is small next to its word count)."""
        hit = self._cache.get(word)
        if hit is not None:
            return hit
        folds = tuple(tokenize(word))
        keys = tuple(key(t) for t in folds)
        flags = tuple(k in self._root or f in self._vocab_prefixes for f, k in zip(folds, keys))
        hit = (folds, keys, flags, any(flags))
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[word] = hit
        return hit

    def _joined_key(self, a: str, b: str) -> str:
        memo = self._join_memo
        k = memo.get((a, b))
        if k is None:
            if len(memo) >= _CACHE_LIMIT:
                memo.clear()
            k = memo[(a, b)] = key(a + b)
        return k

    # ------------------------------------------------------------------ matching

    def _longest(self, keys: list[str], folds: list[str], i: int) -> tuple[int, int]:
        """(action, last token) of the longest name starting at token ``i``, or (-1, -1).

        A depth-first walk of the trie: at each step the next token is tried as it is and,
        when it could be the first half of a name token, joined with the one after it (the
        text split "kickflip" into "kick flip").  Branching is rare, so this is about one
        dict lookup per token.
        """
        prefixes, n = self._vocab_prefixes, len(keys)
        best, best_end, best_joins = -1, -1, 0
        stack = [(self._root, i, 0)]
        while stack:
            node, j, joins = stack.pop()
            if j >= n:
                continue
            nxt = node.get(keys[j])
            if nxt is not None:
                hit = nxt.get(_END)
                if hit is not None and (j > best_end or (j == best_end and joins < best_joins)):
                    best, best_end, best_joins = hit, j, joins
                stack.append((nxt, j + 1, joins))
            if j + 1 < n and folds[j] in prefixes:
                joined = node.get(self._joined_key(folds[j], folds[j + 1]))
                if joined is not None:
                    hit = joined.get(_END)
                    # On a tie the text's own spacing wins ("back flip" over "backflip").
                    if hit is not None and (
                        j + 1 > best_end or (j + 1 == best_end and joins + 1 < best_joins)
                    ):
                        best, best_end, best_joins = hit, j + 1, joins + 1
                    stack.append((joined, j + 2, joins + 1))
        return best, best_end

    def find_in_words(self, words: Sequence[str]) -> list[Match]:
        """Mentions in a word stream (e.g. ASR words, which may carry punctuation and
        several tokens: "push-ups,"); spans are word indices.

        Only tokens that could start a name are visited; the common case - a stream with
        no such token - costs one cached lookup per word.
        """
        get, miss = self._cache.get, self._word_tokens
        entries = [get(w) or miss(w) for w in words]
        if not any(e[3] for e in entries):
            return []
        chain = itertools.chain.from_iterable
        folds = list(chain(e[0] for e in entries))
        keys = list(chain(e[1] for e in entries))
        starts = [i for i, f in enumerate(chain(e[2] for e in entries)) if f]
        origin = None if len(keys) == len(entries) else [wi for wi, e in enumerate(entries) for _ in e[1]]
        out: list[Match] = []
        nxt = 0
        for i in starts:
            if i < nxt:
                continue
            best, best_end = self._longest(keys, folds, i)
            if best >= 0:
                out.append(
                    Match(best, i, best_end) if origin is None else Match(best, origin[i], origin[best_end])
                )
                nxt = best_end + 1
        return out

    def find_in_text(self, text: str) -> list[Match]:
        """Mentions in free text (a title); spans are token indices."""
        return self.find_in_words(_TOKEN.findall(fold(text)))

    def actions_in(self, text: str) -> list[str]:
        """The distinct action names mentioned in ``text``, in order of first mention."""
        return list(dict.fromkeys(self.names[m.action] for m in self.find_in_text(text)))
