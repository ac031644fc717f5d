"""Metrics: BLEU (sacrebleu: a corpus, several references per sentence, one sentence), chrF
(sacrebleu: a corpus, several references per sentence), exact match, scores per source-length
bucket, and attention read as word alignment: hard links from the weights, the alignment error
rate (AER) and link recall against gold links, crossing links, attention entropy, a diagonal
baseline, and offsets from known translations."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import sacrebleu
import torch

Tokens = Sequence[str]
Links = Iterable[tuple[int, int]]


def corpus_bleu(hyps: Sequence[Tokens], refs: Sequence[Tokens]) -> float:
    """Corpus BLEU (0–100) with sacrebleu over our own tokens (``tokenize='none'``), one reference
    per sentence. Comparable within this series; papers detokenize first."""
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses but {len(refs)} references")
    if not hyps:
        raise ValueError("corpus_bleu needs at least one sentence")
    result = sacrebleu.corpus_bleu([" ".join(h) for h in hyps], [[" ".join(r) for r in refs]],
                                   tokenize="none", force=True)
    return float(result.score)


def _reference_streams(hyps: Sequence[Tokens], references: Sequence[Sequence[Tokens]],
                       metric: str) -> list[list[str | None]]:
    """``references`` laid out as sacrebleu wants them: stream ``k`` holds every sentence's ``k``-th
    reference (``None`` where a sentence has fewer), after checking the lengths agree."""
    if len(hyps) != len(references):
        raise ValueError(f"{len(hyps)} hypotheses but {len(references)} reference lists")
    if not hyps:
        raise ValueError(f"{metric} needs at least one sentence")
    if any(len(refs) == 0 for refs in references):
        raise ValueError("every sentence needs at least one reference")
    depth = max(len(refs) for refs in references)
    return [[" ".join(refs[k]) if k < len(refs) else None for refs in references] for k in range(depth)]


def multi_reference_bleu(hyps: Sequence[Tokens], references: Sequence[Sequence[Tokens]]) -> float:
    """Corpus BLEU (0–100) when a sentence has several correct translations: ``references[i]``
    lists all of sentence ``i``'s (at least one). An n-gram counts if any reference has it; the
    brevity penalty uses the reference length closest to the hypothesis."""
    streams = _reference_streams(hyps, references, "multi_reference_bleu")
    result = sacrebleu.corpus_bleu([" ".join(h) for h in hyps], streams, tokenize="none", force=True)
    return float(result.score)


def multi_reference_chrf(hyps: Sequence[Tokens], references: Sequence[Sequence[Tokens]]) -> float:
    """Corpus chrF (0–100, sacrebleu's chrF2: character n-grams up to 6, recall weighted twice
    precision) with several references per sentence (each sentence is scored against the reference
    that suits it best). Spaces are ignored, so our word tokens score as the detokenised text would.
    The Tatoeba Challenge reports it beside BLEU: it gives partial credit to a word half right."""
    streams = _reference_streams(hyps, references, "multi_reference_chrf")
    return float(sacrebleu.corpus_chrf([" ".join(h) for h in hyps], streams).score)


def bleu_signature(multi_reference: bool = True) -> str:
    """sacrebleu's signature for the BLEU above (``nrefs:var|case:mixed|eff:no|tok:none|smooth:exp|
    version:…``): what a reader needs to compare our numbers with others'. sacrebleu knows the
    number of references only after scoring, so this scores two sentences laid out the same way."""
    bleu = sacrebleu.metrics.BLEU(tokenize="none", force=True)
    references = [["a b", "c"], ["a c", None]] if multi_reference else [["a b", "c"]]
    bleu.corpus_score(["a b", "c"], references)
    return str(bleu.get_signature())


def chrf_signature() -> str:
    """sacrebleu's signature for :func:`multi_reference_chrf` (``nrefs:var|case:mixed|eff:yes|nc:6|
    nw:0|space:no|version:…``), found as :func:`bleu_signature` finds its own."""
    chrf = sacrebleu.metrics.CHRF()
    chrf.corpus_score(["a b", "c"], [["a b", "c"], ["a c", None]])
    return str(chrf.get_signature())


def sentence_bleu(hyp: Tokens, references: Sequence[Tokens]) -> float:
    """BLEU (0–100) of one sentence against its references, smoothed (exponential, sacrebleu's
    default) so a short sentence without a 4-gram match does not score 0. For ranking examples,
    not for reporting: corpus BLEU is the metric."""
    if not references:
        raise ValueError("sentence_bleu needs at least one reference")
    return float(sacrebleu.sentence_bleu(" ".join(hyp), [" ".join(r) for r in references], tokenize="none").score)


def exact_match(hyps: Sequence[Tokens], refs: Sequence[Tokens]) -> float:
    """Fraction of sentences translated exactly right (0–1)."""
    if len(hyps) != len(refs) or not hyps:
        raise ValueError("exact_match needs two lists of the same, non-zero length")
    return sum(list(h) == list(r) for h, r in zip(hyps, refs, strict=True)) / len(hyps)


def bucket_label(bucket: tuple[int, int]) -> str:
    return f"{bucket[0]}–{bucket[1]}"


def by_length(src_lengths: Sequence[int], hyps: Sequence[Tokens], refs: Sequence[Tokens],
              buckets: Sequence[tuple[int, int]], metric: Callable = corpus_bleu) -> dict[str, float]:
    """``metric`` computed separately on each source-length bucket (inclusive bounds).

    Returns ``{"4–10": score, ...}`` in bucket order; empty buckets are left out."""
    if not len(src_lengths) == len(hyps) == len(refs):
        raise ValueError(f"by_length needs one source length, hypothesis and reference per sentence: got "
                         f"{len(src_lengths)} lengths, {len(hyps)} hypotheses, {len(refs)} references")
    scores = {}
    for lo, hi in buckets:
        idx = [i for i, n in enumerate(src_lengths) if lo <= n <= hi]
        if idx:
            scores[bucket_label((lo, hi))] = metric([hyps[i] for i in idx], [refs[i] for i in idx])
    return scores


def attention_links(weights: torch.Tensor, n_src: int, n_tgt: int) -> set[tuple[int, int]]:
    """Hard alignment from attention: each target word links to its most-attended source word.

    ``weights [>= n_tgt, >= n_src]`` (rows: target positions; extra rows/columns such as
    ``<eos>`` are ignored: a target word whose argmax is a source ``<eos>`` gets no link)."""
    best = weights[:n_tgt].argmax(dim=-1).tolist()
    return {(j, t) for t, j in enumerate(best) if j < n_src}


def alignment_error_rate(predicted: Sequence[Links], gold: Sequence[Links]) -> float:
    """AER (Och & Ney, 2003) with every gold link *sure*: $1 - 2|A \\cap G| / (|A| + |G|)$,
    summed over the corpus. 0 is perfect."""
    if len(predicted) != len(gold):
        raise ValueError(f"{len(predicted)} predicted alignments but {len(gold)} gold ones")
    hits = size_a = size_g = 0
    for a, g in zip(predicted, gold, strict=True):
        a, g = set(a), set(g)
        hits, size_a, size_g = hits + len(a & g), size_a + len(a), size_g + len(g)
    if size_a + size_g == 0:
        raise ValueError("both alignments are empty")
    return 1.0 - 2.0 * hits / (size_a + size_g)


def crossing_links(links: Links) -> set[tuple[int, int]]:
    """The links that cross another one: ``(s1, t1)`` and ``(s2, t2)`` with ``s1 < s2`` but
    ``t1 > t2`` — where French and English order differ (une voiture rouge → a red car)."""
    links = sorted(set(links))
    return {a for a in links for b in links if (a[0] - b[0]) * (a[1] - b[1]) < 0}


def link_recall(predicted: Sequence[Links], gold: Sequence[Links]) -> float:
    """Share of the gold links that the predicted alignments contain (summed over the corpus)."""
    if len(predicted) != len(gold):
        raise ValueError(f"{len(predicted)} predicted alignments but {len(gold)} gold ones")
    total = sum(len(set(g)) for g in gold)
    if total == 0:
        raise ValueError("there are no gold links")
    return sum(len(set(a) & set(g)) for a, g in zip(predicted, gold, strict=True)) / total


def attention_entropy(weights: torch.Tensor) -> torch.Tensor:
    """Entropy in nats of each row of attention ``weights [..., S]``: 0 when all the weight is on
    one word, ``log S`` when it is spread evenly."""
    w = weights.clamp_min(1e-12)
    return -(weights * w.log()).sum(-1)


def diagonal_links(n_src: int, n_tgt: int) -> set[tuple[int, int]]:
    """A baseline that ignores the words: English word ``t`` linked to the French word at the
    same relative position."""
    return {(round(t * (n_src - 1) / max(n_tgt - 1, 1)), t) for t in range(n_tgt)}


def misaligned_targets(predicted: Links, gold: Links) -> list[int]:
    """Target positions that have gold links but whose predicted link (if any) is not one of them
    (one predicted link per target word, as :func:`attention_links` gives)."""
    best = {t: s for s, t in predicted}
    sources: dict[int, set[int]] = {}
    for s, t in gold:
        sources.setdefault(t, set()).add(s)
    return sorted(t for t, ok in sources.items() if best.get(t) not in ok)


def look_ahead_misses(predicted: Links, gold: Links) -> list[int]:
    """The misaligned target positions (:func:`misaligned_targets`) whose predicted source word is
    a gold source of the *next* target word ``t + 1``: attention that has already moved on to the
    word the decoder will write next. (A miss on the last target word cannot be one.)"""
    predicted, gold = list(predicted), list(gold)
    best = {t: s for s, t in predicted}
    next_sources: dict[int, set[int]] = {}
    for s, t in gold:
        next_sources.setdefault(t - 1, set()).add(s)      # the gold sources of t, filed under t - 1
    return [t for t in misaligned_targets(predicted, gold) if best.get(t) in next_sources.get(t, set())]


def anchor_offsets(weights: torch.Tensor, src_tokens: Sequence[str], tgt_tokens: Sequence[str],
                   lexicon: dict[str, str]) -> list[int]:
    """Where attention looks, relative to a known translation, on data without gold alignments.

    ``lexicon`` maps source words to their one-word translations (``{"chat": "cat"}``). For each
    entry whose words occur exactly once in the source and once in the target, returns the
    position of the source word the target word attends to most, minus the position of its
    translation: 0 = on the word, -1 = one word before it. ``weights [T(+1), S(+1)]`` as from
    teacher-forced attention (an ``<eos>`` row and column may be included; the ``<eos>`` column
    counts as a position after the last word).
    """
    offsets = []
    for src_word, tgt_word in lexicon.items():
        if list(src_tokens).count(src_word) == 1 and list(tgt_tokens).count(tgt_word) == 1:
            s, t = list(src_tokens).index(src_word), list(tgt_tokens).index(tgt_word)
            offsets.append(int(weights[t].argmax()) - s)
    return offsets


@dataclass
class AttentionPeaks:
    """Where the target words' attention peaks, over many sentences without gold alignments
    (:func:`attention_peaks`): how many words peak on the source ``<eos>``, how many of those are
    final punctuation; how many of the target's words that are not punctuation peak on the
    source's *end* (its final punctuation or ``<eos>``, :func:`source_end`); and anchor words'
    offsets from their translation, per lexicon group."""
    words: int = 0                                 # target words counted
    on_eos: int = 0                                # of them, peaking on the source <eos>
    punctuation_on_eos: int = 0                    # of those, a . ! or ?
    offsets: dict[str, list[int]] = field(default_factory=dict)   # group -> anchor_offsets
    content_words: int = 0                         # target words that are not punctuation
    content_on_end: int = 0                        # of them, peaking on the source's end

    @property
    def eos_share(self) -> float:
        return self.on_eos / max(1, self.words)

    @property
    def end_share(self) -> float:
        """The share of the target's words, punctuation left out, whose attention peaks on the
        source's final punctuation or ``<eos>``: a collapse onto the end of the sentence, whether
        onto ``<eos>`` or onto the final full stop beside it."""
        return self.content_on_end / max(1, self.content_words)

    def on_word(self, group: str | None = None) -> float:
        """The share of the anchors (of ``group``, or of all groups) whose peak lands on their
        translation (offset 0)."""
        values = self.offsets[group] if group else [o for v in self.offsets.values() for o in v]
        return sum(o == 0 for o in values) / max(1, len(values))


def is_punctuation(token: str) -> bool:
    """A token without a letter or digit: ``.``, ``?!``, ``»``."""
    return not any(ch.isalnum() for ch in token)


def source_end(src: Tokens) -> int:
    """The first position of a source sentence's *end*: its final run of punctuation tokens, then
    ``<eos>`` (position ``len(src)``). ``["il", "pleut", "."]`` → 2 (``.`` and ``<eos>``);
    without final punctuation, ``len(src)`` (``<eos>`` alone)."""
    end = len(src)
    while end > 0 and is_punctuation(src[end - 1]):
        end -= 1
    return end


def attention_peaks(maps: Sequence[torch.Tensor], sources: Sequence[Tokens], targets: Sequence[Tokens],
                    lexicons: dict[str, dict[str, str]]) -> AttentionPeaks:
    """Count where attention peaks: ``maps[i] [len(targets[i]) + 1, len(sources[i]) + 1]``
    (words plus ``<eos>``, as teacher-forced attention gives them); ``lexicons`` names groups of
    anchor words (``{"names": {"marie": "mary"}, "nouns": {...}}``) for :func:`anchor_offsets`."""
    if not len(maps) == len(sources) == len(targets):
        raise ValueError(f"attention_peaks needs one map, source and target per sentence: got {len(maps)} maps, "
                         f"{len(sources)} sources, {len(targets)} targets")
    peaks = AttentionPeaks(offsets={group: [] for group in lexicons})
    for w, src, tgt in zip(maps, sources, targets, strict=True):
        rows = w[:len(tgt)].argmax(1)                                     # [T]: each word's darkest column
        on_eos = (rows == len(src)).tolist()
        peaks.words += len(on_eos)
        peaks.on_eos += sum(on_eos)
        peaks.punctuation_on_eos += sum(e and word in (".", "!", "?") for e, word in zip(on_eos, tgt, strict=True))
        end = source_end(src)
        content = [j for j, word in zip(rows.tolist(), tgt, strict=True) if not is_punctuation(word)]
        peaks.content_words += len(content)
        peaks.content_on_end += sum(j >= end for j in content)
        for group, lexicon in lexicons.items():
            peaks.offsets[group] += anchor_offsets(w, src, tgt, lexicon)
    return peaks


def eos_row_on_under_read(maps: Sequence[torch.Tensor]) -> tuple[float, float]:
    """Where the last row of each map peaks — the target ``<eos>``, which translates no source word
    — against the coverage penalty's even share (notebook 06). ``maps[i] [T + 1, S + 1]``: ``T``
    target tokens and ``<eos>`` (rows), ``S`` source tokens and ``<eos>`` (columns), as
    teacher-forced attention gives them. A position is *under-read* when the ``T`` word rows give it
    less than ``(T + 1) / (S + 1)`` in total. Returns the share of maps whose ``<eos>`` row peaks on an
    under-read position, and the mean share of positions that are under-read (what a row peaking
    at random would hit)."""
    if not maps:
        raise ValueError("no attention maps")
    hits, share = 0, 0.0
    for w in maps:
        rows, columns = w.shape
        under = w[:-1].sum(0) < rows / columns                            # [S + 1]: the word rows' total
        hits += bool(under[int(w[-1].argmax())])
        share += under.float().mean().item()
    return hits / len(maps), share / len(maps)


def weight_by_offset(weights: torch.Tensor, mask: torch.Tensor, offsets: Sequence[int]) -> torch.Tensor:
    """How a self-attention head spreads its weight by distance (notebook 07): for each offset
    ``k``, the mean over real query positions ``i`` of the weight on position ``i + k`` (-1 = the
    previous word, 0 = the word itself, +1 = the next; 0 where ``i + k`` is outside the sentence).

    ``weights [..., L, L]`` (rows: queries, columns: keys, e.g. ``[B, layers, h, L, L]``), ``mask
    [B, L]`` True at real positions (broadcast over the dimensions between). Returns
    ``[..., len(offsets)]`` without the batch dimension: averaged over every real query of every
    sentence."""
    L = weights.size(-1)
    real = mask.view(mask.size(0), *([1] * (weights.dim() - 3)), L).to(weights.dtype)   # [B, 1, …, L]
    shares = []
    for k in offsets:
        on_offset = torch.diag(torch.ones(max(L - abs(k), 0), device=weights.device), k)[:L, :L]  # 1 at (i, i + k)
        share = (weights * on_offset).sum(-1)                        # [..., L]: weight of each query at i + k
        shares.append((share * real).sum(-1).sum(0) / real.sum(-1).sum(0))
    return torch.stack(shares, dim=-1)


def even_spread(mask: torch.Tensor, causal: bool = False) -> torch.Tensor:
    """The map of a head that spreads its weight evenly over every position it may attend to: the
    baseline for :func:`weight_by_offset` (notebook 07). ``mask [B, L]`` True at real positions;
    ``causal``: query ``i`` may attend to ``j <= i`` only, as in the decoder. Returns ``[B, L, L]``,
    each real query's row summing to 1 (rows of padding queries are 0)."""
    allowed = mask[:, None, :].expand(-1, mask.size(1), -1)                     # [B, L, L]: every real key
    if causal:
        allowed = allowed & torch.ones(mask.size(1), mask.size(1), dtype=torch.bool, device=mask.device).tril()
    allowed = allowed & mask[:, :, None]                                         # real queries only
    weights = allowed.float()
    return weights / weights.sum(-1, keepdim=True).clamp(min=1)
