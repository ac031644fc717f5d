"""``build_model``: a fresh :class:`~utils.seq2seq.Seq2Seq` from a config of either family.

The two families keep their configs beside their layers — :class:`utils.models.RNNConfig`
(notebooks 01–06) and :class:`utils.transformer.TransformerConfig` (notebooks 07–08) — and this
module, above both, is the one place that knows them all. A checkpoint stores the config with its
family's name (:func:`config_to_dict`), so :func:`config_from_dict` rebuilds the right one.
"""
from __future__ import annotations

from dataclasses import asdict, fields

from utils.models import BahdanauDecoder, BidirectionalEncoder, Encoder, LuongDecoder, RNNConfig, VanillaDecoder
from utils.seq2seq import Seq2Seq
from utils.transformer import TransformerConfig, TransformerDecoder, TransformerEncoder

Config = RNNConfig | TransformerConfig
FAMILIES: dict[str, type] = {"rnn": RNNConfig, "transformer": TransformerConfig}


def build_model(config: Config, src_vocab_size: int, tgt_vocab_size: int, pad_id: int = 0) -> Seq2Seq:
    """A fresh model for ``config`` (random weights: seed torch first for a repeatable one)."""
    c = config
    if isinstance(c, TransformerConfig):
        sizes = (c.d_model, c.heads, c.ff_size, c.layers, c.dropout, pad_id, c.norm, c.scale_embeddings)
        return Seq2Seq(TransformerEncoder(src_vocab_size, *sizes),
                       TransformerDecoder(tgt_vocab_size, *sizes, tie_embeddings=c.tie_embeddings), c)
    if not isinstance(c, RNNConfig):
        raise TypeError(f"build_model takes an RNNConfig or a TransformerConfig, got {type(c).__name__}")
    encoder = (BidirectionalEncoder if c.bidirectional else Encoder)(src_vocab_size, c.emb_size, c.hidden_size,
                                                                      c.dropout, pad_id)
    if c.decoder == "vanilla":
        decoder = VanillaDecoder(tgt_vocab_size, c.emb_size, c.hidden_size, c.dropout, pad_id)
    elif c.decoder == "luong":
        decoder = LuongDecoder(tgt_vocab_size, c.emb_size, c.hidden_size, c.score, c.dropout, pad_id,
                               c.attention_size, c.query, c.decoder_init)
    elif c.decoder == "bahdanau":
        decoder = BahdanauDecoder(tgt_vocab_size, c.emb_size, c.hidden_size, c.score, c.dropout, pad_id,
                                  c.attention_size)
    else:
        raise ValueError(f"unknown decoder {c.decoder!r}; choose 'vanilla', 'luong' or 'bahdanau' "
                         "(the Transformer has its own TransformerConfig)")
    return Seq2Seq(encoder, decoder, c)


def config_to_dict(config: Config) -> dict:
    """The config's fields and its family's name: what a checkpoint stores."""
    family = next((name for name, cls in FAMILIES.items() if isinstance(config, cls)), None)
    if family is None:
        raise TypeError(f"not a model config: {type(config).__name__}")
    return {"family": family, **asdict(config)}


def config_from_dict(d: dict) -> Config:
    """The config :func:`config_to_dict` stored; ``ValueError`` naming the fields or family it
    does not know (a file from another version of the series)."""
    d = dict(d)
    family = d.pop("family", None)
    if family not in FAMILIES:
        raise ValueError(f"unknown model family {family!r}: this version knows {sorted(FAMILIES)}")
    cls = FAMILIES[family]
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ValueError(f"its {cls.__name__} has field(s) {unknown} that this version does not know "
                         f"(it knows {sorted(known)})")
    return cls(**d)
