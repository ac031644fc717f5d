"""The sentence pair: the one type every corpus of the series yields, synthetic or real.

A pair holds the two sentences, their tokens (tokenised once, with the rules of their languages:
:func:`utils.text.tokenize`), the languages, and the gold word alignment where the corpus has one
(the synthetic corpus; real sentences have none). The rest of the series reads ``src_tokens`` and
``tgt_tokens``; a subword corpus replaces them with pieces and keeps the words in ``src_words``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from utils.text import tokenize


@dataclass(frozen=True)
class SentencePair:
    """One source sentence and its translation.

    ``alignment`` holds the gold links ``(source index, target index)`` over word tokens (empty
    when the corpus has none). ``fr`` and ``en`` name the source and the target as the synthetic
    French–English corpus does, so code written for it reads any pair: ``p.fr`` is German text in a
    German–English corpus.

        SentencePair.tokenized("le chat dort .", "the cat sleeps .", alignment=((0, 0), (1, 1), (2, 2), (3, 3)))
    """

    src: str
    tgt: str
    src_tokens: list[str] = field(repr=False, hash=False)
    tgt_tokens: list[str] = field(repr=False, hash=False)
    src_lang: str = "fr"
    tgt_lang: str = "en"
    alignment: tuple[tuple[int, int], ...] = ()

    @classmethod
    def tokenized(cls, src: str, tgt: str, src_lang: str = "fr", tgt_lang: str = "en",
                  alignment: tuple[tuple[int, int], ...] = ()) -> "SentencePair":
        """A pair whose tokens are the two sentences tokenised with their languages' rules."""
        return cls(src, tgt, tokenize(src, src_lang), tokenize(tgt, tgt_lang), src_lang, tgt_lang,
                   tuple(alignment))

    @property
    def src_words(self) -> list[str]:
        """The source's word tokens (``src_tokens`` are subword pieces in a subword corpus)."""
        return tokenize(self.src, self.src_lang)

    @property
    def tgt_words(self) -> list[str]:
        return tokenize(self.tgt, self.tgt_lang)

    @property
    def fr(self) -> str:
        return self.src

    @property
    def en(self) -> str:
        return self.tgt
