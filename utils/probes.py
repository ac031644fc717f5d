"""Probes of the bottleneck: what the encoder's final state still knows about each source word,
and how strongly the training signal reaches each source word (notebooks 01 and 02), the encoder's
last output (the path argument, notebook 07) and each layer of a Transformer (notebook 07)."""
from __future__ import annotations

import torch

from utils.pairs import SentencePair
from utils.parallel_data import ParallelData
from utils.seq2seq import Seq2Seq
from utils.train import sequence_loss


@torch.no_grad()
def _final_states(model: Seq2Seq, data: ParallelData, pairs: list[SentencePair]) -> torch.Tensor:
    """The encoder's last hidden state $h_T$ for each pair: ``[len(pairs), H]``."""
    device = next(model.parameters()).device
    states = []
    for _, batch in data.batches(pairs):
        batch = batch.to(device)
        _, hidden = model.encoder(batch.src, batch.src_mask)         # [1, batch, H]
        states.append(hidden[-1].cpu())
    return torch.cat(states)


def probe_final_state(model: Seq2Seq, data: ParallelData, positions: list[int], min_len: int = 41,
                      steps: int = 100, seed: int = 0,
                      max_len: int | None = None) -> tuple[dict[int, float], dict[int, float]]:
    """What does the single vector $h_T$ still know about each source word?

    For each position (1 = first French word, -1 = last; positions in the *original* order even
    when the model reads the source reversed), a linear classifier (a "probe") is trained on the
    training sentences' $h_T$ to name the word at that position, and tested on the validation and
    test sentences. Only sentences of ``min_len`` to ``max_len`` tokens (default: no upper limit;
    the count excludes the final ``<eos>``). Returns the probe's accuracy
    and the accuracy of always guessing the most common word there (the baseline), per position.

    Taught in notebook 01.
    """
    def split(pairs):
        pairs = [p for p in pairs if min_len <= len(p.src_tokens) <= (max_len or len(p.src_tokens))]
        if not pairs:
            raise ValueError(f"no sentences of {min_len} to {max_len or 'any number of'} tokens to probe")
        states = _final_states(model, data, pairs)
        words = {pos: torch.tensor([data.src_vocab.stoi.get(p.src_tokens[pos - 1 if pos > 0 else pos],
                                                             data.src_vocab.unk_id) for p in pairs])
                 for pos in positions}
        return states, words

    (x_train, y_train), (x_test, y_test) = split(data.train), split(data.valid + data.test)
    mean, std = x_train.mean(0), x_train.std(0) + 1e-6
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    accuracy, baseline = {}, {}
    for pos in positions:
        torch.manual_seed(seed)
        probe = torch.nn.Linear(x_train.size(1), len(data.src_vocab))
        optimizer = torch.optim.Adam(probe.parameters(), lr=0.1)
        for _ in range(steps):                                    # full-batch training, a few seconds
            loss = torch.nn.functional.cross_entropy(probe(x_train), y_train[pos])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            accuracy[pos] = (probe(x_test).argmax(-1) == y_test[pos]).float().mean().item()
        most_common = torch.bincount(y_train[pos]).argmax()
        baseline[pos] = (y_test[pos] == most_common).float().mean().item()
    return accuracy, baseline


def gradient_by_source_position(model: Seq2Seq, data: ParallelData, min_len: int = 51,
                                max_sentences: int = 64, split: str = "test") -> list[float]:
    """How strongly does the training signal reach each source word?

    For up to ``max_sentences`` sentences with at least ``min_len`` source tokens, computes the
    teacher-forced loss (summed over target words) and the norm of its gradient with respect to
    each source word's embedding $x_j$ (the encoder's input), averaged over sentences. Returns
    one value per position $1 \\dots$ ``min_len`` (positions in the order the encoder reads).

    Taught in notebook 02.
    """
    device = next(model.parameters()).device
    pairs = [p for p in getattr(data, split) if len(p.src_tokens) >= min_len][:max_sentences]
    if not pairs:
        raise ValueError(f"no {split} sentences with at least {min_len} source tokens")
    batch = data.batch(pairs).to(device)
    captured = {}

    def keep(module, inputs, output):                    # the embeddings x_j, [batch, S, E]
        output.retain_grad()
        captured["x"] = output

    handle = model.encoder.embedding.register_forward_hook(keep)
    was_training = model.training
    try:
        model.eval()                                     # no dropout; gradients still flow
        model.zero_grad()
        # cuDNN's RNN backward refuses eval mode; the native kernels compute the same gradients.
        with torch.backends.cudnn.flags(enabled=False):
            logits, _ = model(batch.src, batch.src_mask, batch.tgt[:, :-1])
            loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), batch.tgt[:, 1:],
                                                     ignore_index=data.tgt_vocab.pad_id, reduction="sum")
            loss.backward()
    finally:
        handle.remove()
        model.zero_grad()
        model.train(was_training)
    norms = captured["x"].grad.norm(dim=-1)[:, :min_len]  # [batch, min_len]
    return (norms.mean(0)).tolist()


def gradient_to_last_output(model: Seq2Seq, data: ParallelData, min_len: int = 51, max_sentences: int = 64,
                            split: str = "test", seed: int = 0) -> tuple[float, float]:
    """How strongly does the encoder's last output depend on the sentence's first word, and on its last?

    The path argument of Vaswani et al.'s Table 1, measured on the encoder alone (no attention of
    the decoder can shortcut it), like :func:`gradient_by_source_position`: for up to
    ``max_sentences`` sentences of at least ``min_len`` source tokens, one number is read off the
    encoder's output $z$ at the closing ``<eos>`` (where a GRU encoder's final state is) — a fixed
    random projection $u \\cdot z$, $u$ drawn with ``seed`` — and the gradient of its sum with
    respect to each word's input vector $x_j$ (the embedding, with positions for a Transformer) is
    taken. Returns the mean gradient norm at the first word and at the last word (the one before
    ``<eos>``): in a GRU the first word is as many steps away as the sentence is long, in a
    self-attention layer one step, like the last.

    Taught in notebook 07.
    """
    pairs = [p for p in getattr(data, split) if len(p.src_tokens) >= min_len][:max_sentences]
    if not pairs:
        raise ValueError(f"no {split} sentences with at least {min_len} source tokens")
    device = next(model.parameters()).device
    batch = data.batch(pairs).to(device)
    rows = torch.arange(len(pairs), device=device)
    eos = batch.src_mask.sum(1) - 1                          # every source ends with <eos>: [batch]
    captured = {}

    def keep(module, inputs, output):                        # the input vectors x_j, [batch, S, E]
        output.retain_grad()
        captured["x"] = output

    handle = model.encoder.embedding.register_forward_hook(keep)
    was_training = model.training
    try:
        model.eval()
        model.zero_grad()
        with torch.backends.cudnn.flags(enabled=False):     # cuDNN's RNN backward refuses eval mode
            enc_out, _ = model.encoder(batch.src, batch.src_mask)                      # [batch, S, H]
            z = enc_out[rows, eos]                                                       # [batch, H]
            u = torch.randn(z.shape, generator=torch.Generator().manual_seed(seed)).to(device)
            (z * u).sum().backward()
    finally:
        handle.remove()
        model.zero_grad()
        model.train(was_training)
    norms = captured["x"].grad.norm(dim=-1)                  # [batch, S]
    return norms[:, 0].mean().item(), norms[rows, eos - 1].mean().item()


def layer_gradient_norms(model: Seq2Seq, batch, pad_id: int) -> dict[str, float]:
    """The gradient norm of each layer's parameters for one teacher-forced batch through a
    Transformer (``model.encoder.layers``, ``model.decoder.layers``, ``model.decoder.out``):
    ``{"encoder layer 1": …, …, "output layer": …}``. The model's gradients are left zeroed.

    Taught in notebook 07 (post- against pre-norm at initialisation, Xiong et al., 2020).
    """
    model.zero_grad()
    logits, _ = model(batch.src, batch.src_mask, batch.tgt[:, :-1])
    sequence_loss(logits, batch.tgt[:, 1:], pad_id).backward()
    parts = {**{f"encoder layer {i + 1}": layer for i, layer in enumerate(model.encoder.layers)},
             **{f"decoder layer {i + 1}": layer for i, layer in enumerate(model.decoder.layers)},
             "output layer": model.decoder.out}
    norms = {name: torch.cat([p.grad.flatten() for p in part.parameters()]).norm().item()
             for name, part in parts.items()}
    model.zero_grad()
    return norms
