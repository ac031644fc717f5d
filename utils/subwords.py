"""Subword units: words split into frequent pieces, so a model never meets an unknown word.

A word-level vocabulary keeps only words seen often enough in training; every other word becomes
``<unk>``. Subword units (Sennrich et al., 2016) split rare words into pieces that *are* frequent:
``serrez-moi`` → ``▁ser`` ``rez`` ``-`` ``moi``. Frequent words stay whole, and any word can be
spelled from pieces (down to single characters seen in training), so nothing is unknown.

The pieces come from `sentencepiece <https://github.com/google/sentencepiece>`_ (Kudo and
Richardson, 2018), trained on the training split only. We chose it over Hugging Face
``tokenizers`` because it is one small compiled wheel with no other dependencies, trains in well
under a second on our data, is deterministic for a given input, and is what Marian, T5 and many
translation systems use. It learns the pieces from the series' *own* word tokens (joined by
spaces), so a word boundary is always a piece boundary: :meth:`Subwords.decode` gives back exactly
the word tokens :func:`utils.text.tokenize` made, and BLEU is computed on those words — the
numbers stay comparable with a word-level model's.
"""
from __future__ import annotations

import io
from typing import Iterable, Sequence

import torch

MARK = "\u2581"  # ▁ — sentencepiece's "a new word starts here"


def _sentencepiece():
    try:
        import sentencepiece
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("subword units need the sentencepiece package: pip install sentencepiece "
                          "(it is in requirements.txt and environment.yml)") from error
    return sentencepiece


class Subwords:
    """A sentencepiece model over word tokens: ``encode`` words → pieces, ``decode`` pieces → words.

    With 2,000 pieces learnt from notebook 06's French training split::

        subwords.encode(["serrez-moi", "!"])   # ['▁ser', 'rez', '-', 'moi', '▁!']
        subwords.decode(['▁ser', 'rez', '-', 'moi', '▁!'])   # ['serrez-moi', '!']
    """

    def __init__(self, model_proto: bytes):
        self.model_proto = model_proto  # the trained model, as bytes (saved with checkpoints)
        self._sp = _sentencepiece().SentencePieceProcessor(model_proto=model_proto)

    @classmethod
    def train(cls, token_lists: Iterable[Sequence[str]], vocab_size: int, model_type: str = "bpe") -> "Subwords":
        """Learn ``vocab_size`` pieces (``model_type`` ``"bpe"`` or ``"unigram"``) from token lists.

        Every character of the training text is kept (``character_coverage=1``), so a word made of
        characters seen in training always splits into known pieces. One thread and a fixed input
        order make the result the same on every run."""
        if vocab_size < 10:
            raise ValueError(f"vocab_size must be at least 10, got {vocab_size}")
        lines = [" ".join(tokens) for tokens in token_lists if tokens]
        if not lines:
            raise ValueError("no sentences to learn subword units from")
        model = io.BytesIO()
        _sentencepiece().SentencePieceTrainer.train(
            sentence_iterator=iter(lines), model_writer=model, vocab_size=vocab_size, model_type=model_type,
            character_coverage=1.0, num_threads=1, split_by_whitespace=True, split_digits=False,
            add_dummy_prefix=True, normalization_rule_name="identity", remove_extra_whitespaces=False,
            unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1, hard_vocab_limit=False, minloglevel=2)
        return cls(model.getvalue())

    def encode(self, tokens: Sequence[str]) -> list[str]:
        """Word tokens → pieces; each word's first piece starts with ``▁``."""
        return self._sp.encode(" ".join(tokens), out_type=str) if tokens else []

    def decode(self, pieces: Sequence[str]) -> list[str]:
        """Pieces → word tokens, grouped as :func:`word_index` groups them."""
        words: list[str] = []
        for piece, word in zip(pieces, word_index(pieces), strict=True):
            if word == len(words):
                words.append("")
            words[word] += piece.replace(MARK, "")
        return words

    def pieces(self) -> list[str]:
        """Every piece of the model (without ``<unk>``): the vocabulary a subword corpus needs, so
        that a piece the training split happened not to use is not unknown."""
        return [self._sp.id_to_piece(i) for i in range(len(self)) if not self._sp.is_unknown(i)]

    def __len__(self) -> int:
        return self._sp.get_piece_size()

    def to_tensor(self) -> torch.Tensor:
        """The model as a uint8 tensor: what a checkpoint stores. ``torch.load(weights_only=True)``
        reads tensors in every torch build, while Python ``bytes`` it reads only in newer ones
        (torch 2.3, the classic stack's, refuses them)."""
        return torch.frombuffer(bytearray(self.model_proto), dtype=torch.uint8).clone()

    @classmethod
    def from_tensor(cls, tensor: torch.Tensor) -> "Subwords":
        """The inverse of :meth:`to_tensor`."""
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"expected the uint8 tensor of Subwords.to_tensor, got a {type(tensor).__name__}")
        if tensor.dtype != torch.uint8 or tensor.dim() != 1:
            raise TypeError(f"expected the 1-D uint8 tensor of Subwords.to_tensor, got {tensor.dtype} of shape "
                            f"{tuple(tensor.shape)}")
        return cls(tensor.cpu().numpy().tobytes())

    def __getstate__(self):            # picklable (checkpoints): the processor is rebuilt from the bytes
        return {"model_proto": self.model_proto}

    def __setstate__(self, state):
        self.__init__(state["model_proto"])


def word_index(pieces: Sequence[str]) -> list[int]:
    """For each piece, the index of the word it belongs to: a piece starting with ``▁`` starts a
    word, unless it follows a bare ``▁`` (sentencepiece writes ``▁`` alone before a piece that
    cannot carry it: ``▁`` ``ça`` is one word)."""
    index, word, previous = [], -1, MARK
    for piece in pieces:
        if word < 0 or (piece.startswith(MARK) and previous != MARK):
            word += 1
        index.append(word)
        previous = piece
    return index


def word_attention(weights, src_pieces: Sequence[str], tgt_pieces: Sequence[str]):
    """An attention map over pieces → one over words, so it can be read (and scored) like a
    word-level model's: a source word gets the *sum* of its pieces' weights (the attention it
    receives), a target word the *mean* of its pieces' rows (each row sums to 1, so does their mean).

    ``weights [len(tgt_pieces) (+1), len(src_pieces) (+1)]``: a trailing ``<eos>`` row/column, as
    :func:`utils.alignment.teacher_forced_attention` gives, is kept as a word of its own."""
    import torch

    src = word_index(src_pieces)
    tgt = word_index(tgt_pieces)
    n_src, n_tgt = (src[-1] + 1 if src else 0), (tgt[-1] + 1 if tgt else 0)
    src += list(range(n_src, n_src + weights.size(1) - len(src_pieces)))   # <eos> column
    tgt += list(range(n_tgt, n_tgt + weights.size(0) - len(tgt_pieces)))   # <eos> row
    columns = torch.zeros(weights.size(0), max(src) + 1).index_add_(1, torch.tensor(src), weights.float())
    rows = torch.zeros(max(tgt) + 1, columns.size(1)).index_add_(0, torch.tensor(tgt), columns)
    counts = torch.bincount(torch.tensor(tgt)).clamp(min=1).unsqueeze(1)
    return rows / counts
