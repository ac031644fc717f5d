"""Tokenisation and vocabularies.

``Vocab`` maps tokens to integer ids: specials first (``<pad>``, ``<unk>``, ``<sos>``,
``<eos>``), then tokens by descending frequency, ties in alphabetical order. When torchtext
imports and works, the ids come from ``torchtext.vocab.build_vocab_from_iterator``; otherwise
(no torchtext, or a broken one) a built-in implementation gives the same ids for the same data.
Set ``SEQ2SEQ_TEXT_BACKEND=builtin`` to force the built-in one.

torchtext's own tokenizers (``basic_english``) are English-only, so tokenisation is ours, with
rules per language (:data:`utils.languages.LANGUAGES`):

* French: an elision stays on the left word (``l'homme`` → ``l'`` ``homme``);
* English: clitics go right (``sister's`` → ``sister`` ``'s``; ``don't`` → ``do`` ``n't``);
* German: the apostrophe marks a dropped letter, almost always in ``'s`` = *es*
  (``geht's`` = *geht es*), so ``'s`` goes right as in English: ``geht`` stays the word it is in
  ``geht es`` (one vocabulary entry, not two) and ``'s`` is a word the attention can link to *it*;
* Spanish: ``¿`` and ``¡`` are tokens, and :func:`detokenize` glues them to the word that follows
  (``¿verdad?``); Spanish has no apostrophe contractions, so one inside a word (a name like
  ``O'Brien``) stays in it.
"""
from __future__ import annotations

import os
import re
import unicodedata
import warnings
from collections import Counter
from typing import Iterable

from utils.languages import language_name

PAD, UNK, SOS, EOS = "<pad>", "<unk>", "<sos>", "<eos>"
SPECIALS = [PAD, UNK, SOS, EOS]

# ----------------------------------------------------------------------------- tokenisation
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'"})
_TOKEN = {   # one regular expression per language; a token is one match
    "fr": re.compile(r"aujourd'hui|\w+'|\w+(?:-\w+)*|[^\w\s]"),           # l' homme; aujourd'hui: one word
    "en": re.compile(r"\w+(?=n't\b)|n't\b|'\w+|\w+(?:-\w+)*|[^\w\s]"),    # sister 's, does n't
    "de": re.compile(r"'\w+|\w+(?:-\w+)*|[^\w\s]"),                        # geht 's (= geht es)
    "es": re.compile(r"\w+(?:['-]\w+)*|[^\w\s]"),                          # ¿ verdad ?; o'brien: one word
}
_OPENING = ("¿", "¡")   # Spanish marks that open a question or an exclamation


def normalize(text: str) -> str:
    """Unicode NFC, typographic apostrophes → ``'``, no-break spaces → spaces, lower case.

    Lower case is ``str.lower``, which keeps ``ß`` (``casefold`` would write ``ss``).
    """
    text = unicodedata.normalize("NFC", text).translate(_APOSTROPHES)
    text = text.replace("\u00a0", " ").replace("\u202f", " ")  # French puts these before ?!:; and inside « »
    return text.lower().strip()


def tokenize(text: str, lang: str) -> list[str]:
    """Split normalised text into tokens with the rules of ``lang`` (a code of
    :data:`utils.languages.LANGUAGES`: ``"fr"``, ``"en"``, ``"de"``, ``"es"``).

    Words keep their letters (``ä ö ü ß ñ é``); punctuation marks are tokens of their own. An
    unknown ``lang`` is a ``ValueError``, not a fallback: tokenising German with French rules
    split ``geht's`` into ``geht'`` ``s`` without a word of warning.

    >>> tokenize("L'homme qu'il voit.", "fr")
    ["l'", 'homme', "qu'", 'il', 'voit', '.']
    >>> tokenize("My sister's cat doesn't run!", "en")
    ['my', 'sister', "'s", 'cat', 'does', "n't", 'run', '!']
    >>> tokenize("Wie geht's?", "de")
    ['wie', 'geht', "'s", '?']
    >>> tokenize("¿Cómo estás?", "es")
    ['¿', 'cómo', 'estás', '?']
    """
    name = language_name(lang)   # raises for an unknown code, naming the supported ones
    if lang not in _TOKEN:
        raise ValueError(f"{lang!r} ({name}) is in utils.languages.LANGUAGES but has no tokenisation rule: "
                         f"add its regular expression to _TOKEN in utils/text.py")
    return _TOKEN[lang].findall(normalize(text))


def detokenize(tokens: list[str], lang: str) -> str:
    """Join tokens into text, undoing :func:`tokenize` (exactly, for the synthetic corpus).

    ``.,!?`` join the word before them; so do English and German clitics (``'s``, ``n't``). A
    French elision joins the word after it (``l'`` ``homme``), and so does a Spanish ``¿`` or ``¡``
    (``¿`` ``verdad`` ``?`` → ``¿verdad?``).
    """
    language_name(lang)
    out = ""
    for tok in tokens:
        if lang == "fr":
            glue = not out or out.endswith("'")
        elif lang == "es":
            glue = not out or out.endswith(_OPENING)
        else:
            glue = not out or tok.startswith("'") or tok == "n't"
        if tok in ".,!?":
            glue = True
        out += tok if glue else " " + tok
    return out


# ----------------------------------------------------------------------------- backends
def _torchtext_builder():
    """Return torchtext's ``build_vocab_from_iterator`` if torchtext works here, else the reason."""
    if os.environ.get("SEQ2SEQ_TEXT_BACKEND", "").lower() == "builtin":
        return None, "SEQ2SEQ_TEXT_BACKEND=builtin"
    try:
        import torchtext
    except ImportError:
        return None, "torchtext is not installed"
    except Exception as error:  # e.g. OSError: libtorchtext.so: undefined symbol (torch mismatch)
        return None, f"torchtext failed to import ({type(error).__name__}: {str(error)[:120]})"
    try:
        if hasattr(torchtext, "disable_torchtext_deprecation_warning"):
            torchtext.disable_torchtext_deprecation_warning()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from torchtext.vocab import build_vocab_from_iterator
        probe = build_vocab_from_iterator([["b", "a", "b"]], specials=[UNK])
        probe.set_default_index(0)
        assert probe.get_itos() == [UNK, "b", "a"] and probe["zzz"] == 0
    except Exception as error:  # e.g. torchtext 0.6.0 (no build_vocab_from_iterator)
        version = getattr(torchtext, "__version__", "?")
        return None, f"torchtext {version} is unusable here ({type(error).__name__}: {str(error)[:120]})"
    return build_vocab_from_iterator, f"torchtext {torchtext.__version__}"


_BUILDER, BACKEND_REASON = _torchtext_builder()
BACKEND = "torchtext" if _BUILDER is not None else "builtin"
"""Which implementation builds vocabularies here: ``"torchtext"`` or ``"builtin"``."""
if _BUILDER is None and "installed" not in BACKEND_REASON and "SEQ2SEQ" not in BACKEND_REASON:
    warnings.warn(f"{BACKEND_REASON}; using the built-in Vocab (same ids).", RuntimeWarning, stacklevel=2)


# ----------------------------------------------------------------------------- Vocab
class Vocab:
    """Token ↔ id mapping. Unknown tokens map to ``<unk>``."""

    def __init__(self, itos: list[str], backend: str = "builtin"):
        if len(set(itos)) != len(itos):
            raise ValueError("vocabulary tokens must be unique")
        missing = [s for s in SPECIALS if s not in itos]
        if missing:
            raise ValueError(f"vocabulary lacks special tokens {missing}")
        self.itos = list(itos)
        self.stoi = {tok: i for i, tok in enumerate(self.itos)}
        self.backend = backend
        self.pad_id, self.unk_id = self.stoi[PAD], self.stoi[UNK]
        self.sos_id, self.eos_id = self.stoi[SOS], self.stoi[EOS]

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def __getitem__(self, token: str) -> int:
        return self.stoi.get(token, self.unk_id)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.itos == other.itos

    def __repr__(self) -> str:
        return f"Vocab({len(self)} tokens, backend={self.backend!r})"

    def encode(self, tokens: list[str]) -> list[int]:
        """Tokens → ids (unknown → ``<unk>``)."""
        return [self[t] for t in tokens]

    def decode(self, ids: Iterable[int], strip_specials: bool = True) -> list[str]:
        """Ids → tokens; stops at ``<eos>`` and drops ``<pad>``/``<sos>`` when ``strip_specials``."""
        tokens = []
        for i in ids:
            i = int(i)
            if strip_specials and i == self.eos_id:
                break
            if strip_specials and i in (self.pad_id, self.sos_id):
                continue
            tokens.append(self.itos[i])
        return tokens

    def unknown(self, tokens: list[str]) -> list[str]:
        """The tokens this vocabulary does not know."""
        return [t for t in tokens if t not in self.stoi]


def build_vocab(token_lists: Iterable[list[str]], min_freq: int = 1,
                max_size: int | None = None, backend: str | None = None) -> Vocab:
    """Build a ``Vocab``: specials first, then by frequency (descending), ties alphabetical.

    Uses torchtext's ``build_vocab_from_iterator`` when :data:`BACKEND` is ``"torchtext"``;
    ``backend="builtin"`` forces the built-in builder (the parity test compares the two).
    """
    if backend not in (None, "builtin", "torchtext"):
        raise ValueError(f"backend must be 'builtin' or 'torchtext', got {backend!r}")
    if backend == "torchtext" and _BUILDER is None:
        raise RuntimeError(f"torchtext is not usable here: {BACKEND_REASON}")
    token_lists = list(token_lists)
    if _BUILDER is not None and backend != "builtin":
        max_tokens = None if max_size is None else max_size + len(SPECIALS)
        tt_vocab = _BUILDER(iter(token_lists), min_freq=min_freq, specials=SPECIALS,
                            special_first=True, max_tokens=max_tokens)
        return Vocab(tt_vocab.get_itos(), backend="torchtext")
    counts = Counter(tok for tokens in token_lists for tok in tokens)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    itos = SPECIALS + [tok for tok, n in ranked if n >= min_freq and tok not in SPECIALS]
    if max_size is not None:
        itos = itos[: max_size + len(SPECIALS)]
    return Vocab(itos, backend="builtin")
