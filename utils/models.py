"""The RNN family: its config, the GRU encoders and the three decoders (vanilla, Luong, Bahdanau).

Each encoder and decoder keeps the contract of :mod:`utils.seq2seq` (``Encoder``, ``Decoder``),
so :class:`utils.seq2seq.Seq2Seq`, training and search treat them like the Transformer's.
Shapes are batch-first: ``src [batch, src_len]``, ``src_mask [batch, src_len]`` (True at real
tokens), ``tgt [batch, tgt_len]``; ``H`` is the hidden size, ``V`` a vocabulary size.

Where a fast path replaces the textbook code (the encoders, :func:`gru_step`), the textbook
version stays beside it (``forward_packed``, the docstring of ``gru_step``) and a test checks
that the two agree.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
from torch import Tensor
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from utils.attention import attend, make_score
from utils.seq2seq import teacher_forced_loop


@dataclass
class RNNConfig:
    """Everything needed to rebuild an RNN encoder–decoder (saved in checkpoints)."""

    decoder: str = "luong"      # "vanilla" (notebook 01), "luong" or "bahdanau" (notebooks 02-03)
    score: str = "dot"          # attention score: "dot", "scaled_dot", "general" or "concat" (notebook 03)
    emb_size: int = 32          # width of the word embeddings
    hidden_size: int = 128      # width of the GRU states, encoder and decoder alike
    dropout: float = 0.0        # the synthetic corpus is clean and large enough: 0 trained best; 0.1 on Tatoeba
    attention_size: int = 32    # hidden units of the concat score's layer v·tanh(W[s;h])
    bidirectional: bool = False # the encoder reads both ways (Bahdanau et al.; notebook 06)
    query: str = "current"      # Luong decoder's attention query: "current" s_i or "previous" s_{i-1} (notebook 03)
    decoder_init: str = "encoder"  # Luong decoder's first state: the encoder's summary, or "zeros"


def gru_step(rnn: nn.GRU, x: Tensor, hidden: Tensor) -> Tensor:
    """One step of a one-layer ``nn.GRU``: ``x [batch, 1, I]``, ``hidden [1, batch, H]`` →
    the new state ``[1, batch, H]``. It computes exactly what the GRU itself computes::

        _, new_hidden = rnn(x, hidden)

    with the same weights, through ``torch.gru_cell`` — the kernel behind ``nn.GRUCell``, not
    part of PyTorch's documented Python API. It skips ``nn.GRU``'s per-call checks, which add up
    in a decoding loop of many tiny steps. ``test_gru_step_equals_nn_gru`` checks the two agree.
    """
    h = torch.gru_cell(x[:, 0], hidden[0], rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0)
    return h[None]                                                    # [1, batch, H]


class Encoder(nn.Module):
    """Embedding + GRU over a right-padded batch.

    The textbook way is :meth:`forward_packed`: pack the batch so the GRU stops at each
    sentence's last token. :meth:`forward` gets the same result without packing: padding only
    ever comes *after* a sentence's last token, so a left-to-right GRU's states at real positions
    never see it; the final state is read at each sentence's own last token and the padded
    positions are zeroed. A test checks that the two agree; the unpacked one is several times
    faster on CPU, where the packed GRU's backward pass dominates training.

    Taught in notebook 01.
    """

    def __init__(self, vocab_size: int, emb_size: int, hidden_size: int, dropout: float = 0.0, pad_id: int = 0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_size, padding_idx=pad_id)
        self.rnn = nn.GRU(emb_size, hidden_size, batch_first=True)
        self.dropout = nn.Dropout(dropout)

    def forward(self, src: Tensor, src_mask: Tensor) -> tuple[Tensor, Tensor]:
        """Returns ``enc_out [batch, src_len, H]`` (zeros at padding) and ``hidden [1, batch, H]``,
        the state after each sentence's last real token."""
        embedded = self.dropout(self.embedding(src))                      # [batch, src_len, E]
        enc_out, _ = self.rnn(embedded)                                   # [batch, src_len, H]
        lengths = src_mask.sum(1)                                         # [batch]
        last = (lengths - 1).view(-1, 1, 1).expand(-1, 1, enc_out.size(2))  # [batch, 1, H]
        hidden = enc_out.gather(1, last).transpose(0, 1).contiguous()    # [1, batch, H]
        enc_out = enc_out * src_mask.unsqueeze(-1)                        # zeros at padding
        return enc_out, hidden

    def forward_packed(self, src: Tensor, src_mask: Tensor) -> tuple[Tensor, Tensor]:
        """The same as :meth:`forward`, the textbook way: ``pack_padded_sequence`` tells the GRU
        each sentence's length, so it stops at the last real token and its final state is that
        token's. Slower on CPU; kept as the reference the tests compare :meth:`forward` with."""
        embedded = self.dropout(self.embedding(src))                      # [batch, src_len, E]
        packed = pack_padded_sequence(embedded, src_mask.sum(1).cpu(), batch_first=True, enforce_sorted=False)
        packed_out, hidden = self.rnn(packed)                             # hidden: [1, batch, H]
        enc_out, _ = pad_packed_sequence(packed_out, batch_first=True,
                                         total_length=src.size(1))       # [batch, src_len, H], zeros at padding
        return enc_out, hidden


class BidirectionalEncoder(Encoder):
    """:class:`Encoder` plus a second GRU that reads each sentence right to left, as in Bahdanau et
    al. (2015): the state at word ``j`` then summarises the words on *both* sides of it.

    The textbook way is one packed bidirectional ``nn.GRU`` (:meth:`states_packed`). :meth:`states`
    gets the same states without packing: each sentence is reversed within its own length (so
    padding still comes last), read by the backward GRU, and the backward states are put back in
    order. The two ``H``-sized states are concatenated and projected back to ``H``, so every
    decoder and score works unchanged; the decoder starts from
    ``tanh(W [forward final; backward final])``.

    Taught in notebook 06.
    """

    def __init__(self, vocab_size: int, emb_size: int, hidden_size: int, dropout: float = 0.0, pad_id: int = 0):
        super().__init__(vocab_size, emb_size, hidden_size, dropout, pad_id)
        self.rnn_backward = nn.GRU(emb_size, hidden_size, batch_first=True)
        self.project_out = nn.Linear(2 * hidden_size, hidden_size)
        self.project_hidden = nn.Linear(2 * hidden_size, hidden_size)

    def states(self, src: Tensor, src_mask: Tensor) -> tuple[Tensor, Tensor]:
        """The GRU states before the projections: ``[batch, src_len, 2H]`` (forward then backward,
        zeros at padding) and the final states ``[batch, 2H]`` (the forward state after the last
        word, the backward state after the first) — what a packed bidirectional ``nn.GRU`` gives."""
        embedded = self.dropout(self.embedding(src))                      # [batch, src_len, E]
        lengths, real = src_mask.sum(1), src_mask                         # [batch], [batch, src_len]
        positions = torch.arange(src.size(1), device=src.device)[None, :]  # [1, src_len]
        flip = torch.where(real, lengths[:, None] - 1 - positions, positions).unsqueeze(-1)  # reverse each sentence
        forward, _ = self.rnn(embedded)                                   # [batch, src_len, H]
        backward, _ = self.rnn_backward(embedded.gather(1, flip.expand(-1, -1, embedded.size(2))))
        last = (lengths - 1).view(-1, 1, 1).expand(-1, 1, forward.size(2))  # [batch, 1, H]
        final = torch.cat([forward.gather(1, last), backward.gather(1, last)], dim=-1)[:, 0]  # [batch, 2H]
        backward = backward.gather(1, flip.expand(-1, -1, backward.size(2)))  # back in sentence order
        return torch.cat([forward, backward], dim=-1) * real.unsqueeze(-1), final

    def states_packed(self, src: Tensor, src_mask: Tensor) -> tuple[Tensor, Tensor]:
        """The same as :meth:`states`, the textbook way: one packed bidirectional ``nn.GRU`` pass.
        Kept as the reference the tests compare :meth:`states` with.

        The encoder keeps its two directions as two GRUs, so the pass runs PyTorch's
        bidirectional GRU with *their* weights (``torch.func.functional_call``; the ``_reverse``
        weights are the backward direction's). The module is built on the ``meta`` device: it
        only describes the computation and holds no weights of its own."""
        embedded = self.dropout(self.embedding(src))                      # [batch, src_len, E]
        packed = pack_padded_sequence(embedded, src_mask.sum(1).cpu(), batch_first=True, enforce_sorted=False)
        both_ways = nn.GRU(self.rnn.input_size, self.rnn.hidden_size, batch_first=True, bidirectional=True,
                           device="meta")
        weights = {**dict(self.rnn.named_parameters()),
                   **{name + "_reverse": w for name, w in self.rnn_backward.named_parameters()}}
        packed_out, hidden = torch.func.functional_call(both_ways, weights, (packed,))  # hidden: [2, batch, H]
        states, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=src.size(1))  # [batch, src_len, 2H]
        return states, torch.cat([hidden[0], hidden[1]], dim=-1)          # final: [batch, 2H]

    def forward(self, src: Tensor, src_mask: Tensor) -> tuple[Tensor, Tensor]:
        """Returns ``enc_out [batch, src_len, H]`` (zeros at padding) and ``hidden [1, batch, H]``."""
        return self._project(*self.states(src, src_mask), src_mask)

    def forward_packed(self, src: Tensor, src_mask: Tensor) -> tuple[Tensor, Tensor]:
        """:meth:`forward` on top of :meth:`states_packed` (the reference for the tests)."""
        return self._project(*self.states_packed(src, src_mask), src_mask)

    def _project(self, states: Tensor, final: Tensor, src_mask: Tensor) -> tuple[Tensor, Tensor]:
        """``states [batch, src_len, 2H]``, ``final [batch, 2H]`` → ``enc_out``, ``hidden`` of size H."""
        enc_out = self.project_out(states) * src_mask.unsqueeze(-1)       # [batch, src_len, H]
        hidden = torch.tanh(self.project_hidden(final))[None]             # [1, batch, H]
        return enc_out, hidden.contiguous()


VanillaState = tuple[Tensor, Tensor]   # (RNN state s [1, batch, H], fixed context h_T [batch, H])


class VanillaDecoder(nn.Module):
    """The encoder–decoder without attention: the decoder's only view of the source is one
    vector, the encoder's last hidden state $h_T$ — the *bottleneck*.

    As in Cho et al. (2014) — the "RNNencdec" that Bahdanau et al. (2015) compare against —
    $h_T$ initialises the decoder *and* is fed to every step next to the previous word, and the
    prediction sees it too. This helps the vanilla model as much as it can be helped without
    attention; it is still one fixed vector for the whole sentence.

    Taught in notebook 01.
    """

    has_attention = False
    parallel_teacher_forcing = True

    def __init__(self, vocab_size: int, emb_size: int, hidden_size: int, dropout: float = 0.0, pad_id: int = 0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_size, padding_idx=pad_id)
        self.rnn = nn.GRU(emb_size + hidden_size, hidden_size, batch_first=True)
        self.combine = nn.Linear(2 * hidden_size, hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, vocab_size)

    def init_state(self, enc_hidden: Tensor, enc_out: Tensor) -> VanillaState:
        return enc_hidden, enc_hidden[-1]  # (RNN state [1, batch, H], fixed context h_T [batch, H])

    def _run(self, y: Tensor, hidden: Tensor, context: Tensor) -> tuple[Tensor, Tensor]:
        """Previous words ``y [batch, T]`` → logits ``[batch, T, V]`` and the new RNN state."""
        context = context[:, None].expand(-1, y.size(1), -1)                       # [batch, T, H]
        rnn_in = torch.cat([self.dropout(self.embedding(y)), context], dim=-1)     # [batch, T, E+H]
        outputs, hidden = self.rnn(rnn_in, hidden)                                 # [batch, T, H]
        combined = torch.tanh(self.combine(torch.cat([context, outputs], dim=-1)))  # [batch, T, H]
        return self.out(self.dropout(combined)), hidden

    def forward_teacher(self, tgt_in: Tensor, state: VanillaState, enc_out: Tensor,
                        src_mask: Tensor) -> tuple[Tensor, None]:
        """``tgt_in [batch, T]`` → ``logits [batch, T, V]``, no attention (None)."""
        logits, _ = self._run(tgt_in, *state)
        return logits, None

    def step(self, y_prev: Tensor, state: VanillaState, enc_out: Tensor,
             src_mask: Tensor) -> tuple[Tensor, VanillaState, None]:
        """``y_prev [batch]`` → ``logits [batch, V]``, new state, no attention (None)."""
        hidden, context = state
        logits, hidden = self._run(y_prev[:, None], hidden, context)
        return logits[:, 0], (hidden, context), None

    @staticmethod
    def reorder_state(state: VanillaState, index: Tensor) -> VanillaState:
        """The states of the sentences (or beams) ``index`` — used by beam search."""
        hidden, context = state
        return hidden.index_select(1, index), context.index_select(0, index)


LuongState = Tensor                    # the RNN state s [1, batch, H]


class LuongDecoder(nn.Module):
    """Attention *after* the RNN step (Luong et al., 2015), as the seeds describe it:

    1. the RNN updates its state $s_t$ from the previous word;
    2. scores $e_{tj} = \\mathrm{score}(s_t, h_j)$, weights $\\alpha_t = \\mathrm{softmax}(e_t)$;
    3. context $c_t = \\sum_j \\alpha_{tj} h_j$;
    4. $\\tilde s_t = \\tanh(W_c [c_t; s_t])$ and the next word from $\\mathrm{softmax}(W_o \\tilde s_t)$.

    The state never depends on earlier contexts, so under teacher forcing the whole target
    goes through *one* RNN call and *one* batched attention.

    ``query="previous"`` attends with $s_{t-1}$ instead of $s_t$ (the state *before* the previous
    word was read, Bahdanau's query) and changes nothing else: an ablation of the query's time step.

    Taught in notebooks 02, 03.
    """

    has_attention = True
    parallel_teacher_forcing = True

    def __init__(self, vocab_size: int, emb_size: int, hidden_size: int, score: str = "dot",
                 dropout: float = 0.0, pad_id: int = 0, attention_size: int | None = None,
                 query: str = "current", init: str = "encoder"):
        super().__init__()
        if query not in ("current", "previous"):
            raise ValueError(f"query must be 'current' (s_i) or 'previous' (s_i-1), got {query!r}")
        if init not in ("encoder", "zeros"):
            raise ValueError(f"init must be 'encoder' (start from the encoder's final state) or 'zeros', got {init!r}")
        self.query, self.init = query, init
        self.embedding = nn.Embedding(vocab_size, emb_size, padding_idx=pad_id)
        self.rnn = nn.GRU(emb_size, hidden_size, batch_first=True)
        self.score = make_score(score, hidden_size, hidden_size, attention_size)
        self.combine = nn.Linear(2 * hidden_size, hidden_size)  # W_c
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, vocab_size)           # W_o

    def init_state(self, enc_hidden: Tensor, enc_out: Tensor) -> LuongState:
        if self.init == "zeros":              # the source reaches the decoder only through attention
            return torch.zeros_like(enc_hidden)
        return enc_hidden  # [1, batch, H]: step 1 of the seeds — the last encoder state

    def _predict(self, states: Tensor, enc_out: Tensor, src_mask: Tensor,
                 queries: Tensor | None = None) -> tuple[Tensor, Tensor]:
        queries = states if queries is None else queries                          # s_i (or s_{i-1})
        context, weights = attend(queries, enc_out, enc_out, src_mask, self.score)  # [b, T, H], [b, T, S]
        attentional = torch.tanh(self.combine(torch.cat([context, states], dim=-1)))  # [b, T, H]
        return self.out(self.dropout(attentional)), weights                        # [b, T, V]

    def forward_teacher(self, tgt_in: Tensor, state: LuongState, enc_out: Tensor,
                        src_mask: Tensor) -> tuple[Tensor, Tensor]:
        """``tgt_in [batch, T]`` → ``logits [batch, T, V]``, ``weights [batch, T, S]``."""
        states, _ = self.rnn(self.dropout(self.embedding(tgt_in)), state)  # [batch, T, H]
        queries = None
        if self.query == "previous":                                       # s_0 … s_{T-1}
            queries = torch.cat([state.transpose(0, 1), states[:, :-1]], dim=1)
        return self._predict(states, enc_out, src_mask, queries)

    def step(self, y_prev: Tensor, state: LuongState, enc_out: Tensor,
             src_mask: Tensor) -> tuple[Tensor, LuongState, Tensor]:
        previous = state.transpose(0, 1)                                  # s_{i-1}: [batch, 1, H]
        state = gru_step(self.rnn, self.dropout(self.embedding(y_prev[:, None])), state)  # [1, batch, H]
        output = state.transpose(0, 1)                                    # s_i: [batch, 1, H]
        logits, weights = self._predict(output, enc_out, src_mask, previous if self.query == "previous" else None)
        return logits[:, 0], state, weights[:, 0]  # [batch, V], [1, batch, H], [batch, S]

    @staticmethod
    def reorder_state(state: LuongState, index: Tensor) -> LuongState:
        """The states of the sentences (or beams) ``index`` — used by beam search."""
        return state.index_select(1, index)


BahdanauState = tuple[Tensor, Tensor]  # (RNN state s [1, batch, H], the score's prepared keys [batch, S, A])


class BahdanauDecoder(nn.Module):
    """Attention *before* the RNN step (Bahdanau et al., 2015): the query is the previous state
    $s_{i-1}$ and the context $c_i$ is fed into the RNN with the previous word; the prediction
    uses $[c_i; s_i]$. Each step needs the previous one's state, so there is no parallel path.

    Taught in notebook 03.
    """

    has_attention = True
    parallel_teacher_forcing = False

    def __init__(self, vocab_size: int, emb_size: int, hidden_size: int, score: str = "concat",
                 dropout: float = 0.0, pad_id: int = 0, attention_size: int | None = None):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_size, padding_idx=pad_id)
        self.rnn = nn.GRU(emb_size + hidden_size, hidden_size, batch_first=True)
        self.score = make_score(score, hidden_size, hidden_size, attention_size)
        self.combine = nn.Linear(2 * hidden_size, hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, vocab_size)

    def init_state(self, enc_hidden: Tensor, enc_out: Tensor) -> BahdanauState:
        # The state carries the keys prepared for the score (e.g. W2 h_j), computed once here.
        return enc_hidden, self.score.prepare_keys(enc_out)  # [1, batch, H], [batch, S, A]

    def step(self, y_prev: Tensor, state: BahdanauState, enc_out: Tensor,
             src_mask: Tensor) -> tuple[Tensor, BahdanauState, Tensor]:
        hidden, keys = state
        query = hidden[-1][:, None]                                         # s_{i-1}: [batch, 1, H]
        context, weights = attend(query, enc_out, enc_out, src_mask, self.score, prepared_keys=keys)
        rnn_in = torch.cat([self.dropout(self.embedding(y_prev[:, None])), context], dim=-1)  # [b, 1, E+H]
        hidden = gru_step(self.rnn, rnn_in, hidden)                         # s_i: [1, batch, H]
        output = hidden.transpose(0, 1)                                     # [batch, 1, H]
        attentional = torch.tanh(self.combine(torch.cat([context, output], dim=-1)))  # [b, 1, H]
        return self.out(self.dropout(attentional))[:, 0], (hidden, keys), weights[:, 0]

    def forward_teacher(self, tgt_in: Tensor, state: BahdanauState, enc_out: Tensor,
                        src_mask: Tensor) -> tuple[Tensor, Tensor]:
        """``tgt_in [batch, T]`` → ``logits [batch, T, V]``, ``weights [batch, T, S]``, one step at a time."""
        return teacher_forced_loop(self, tgt_in, state, enc_out, src_mask)

    @staticmethod
    def reorder_state(state: BahdanauState, index: Tensor) -> BahdanauState:
        """The states of the sentences (or beams) ``index`` — used by beam search."""
        hidden, keys = state
        return hidden.index_select(1, index), keys.index_select(0, index)
