"""The real-data pipeline of notebooks 06 and 08 and ``scripts/real_data_recipes.py``, in one place.

Tatoeba pairs → the short pairs a CPU budget allows (:func:`select_pairs`) → a split that cannot
leak (:func:`real_splits`) → words or subword pieces (:func:`real_corpora`) → the test sentences
with all their references (:func:`grouped_references`) → multi-reference BLEU on words, greedy or
beam (:func:`decode_and_score`) → where attention peaks on anchor words (:func:`word_maps`,
:func:`anchor_statistics`). :data:`RECIPES` holds the trained models' settings, the script's
defaults (a test checks the notebooks write the same).
"""
from __future__ import annotations

import copy
import math
import statistics
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch

from utils.alignment import teacher_forced_attention
from utils.build import Config, config_to_dict
from utils.data import load_tatoeba, split_by_sentence
from utils.download import find_tatoeba
from utils.languages import ANCHOR_NAMES, ANCHOR_WORDS
from utils.metrics import AttentionPeaks, attention_peaks, multi_reference_bleu, multi_reference_chrf
from utils.models import RNNConfig
from utils.pairs import SentencePair
from utils.parallel_data import ParallelData
from utils.seq2seq import Seq2Seq
from utils.subwords import word_attention
from utils.text import normalize, tokenize
from utils.transformer import TransformerConfig
from utils.translate import beam_hypotheses, translate_tokens

MAX_TOKENS = 10            # at most this many tokens on each side of a pair
N_PAIRS = 18_000           # keep this many pairs, those with the shortest English sentences
SPLIT = (0.8, 0.1, 0.1)    # train, valid, test shares (by sentence: see utils.data.split_by_sentence)
SPLIT_SEED = 0
MIN_FREQ = 2               # a word enters the word vocabulary when seen this often in training
SUBWORDS = 2000            # subword pieces per language
BATCH_SIZE = 64
BEAM_SIZE, ALPHA = 5, 0.6  # beam search: beams, length penalty


@dataclass(frozen=True)
class Recipe:
    """A model and how it is trained: :func:`utils.checkpoints.train_or_load`'s settings."""

    config: Config
    epochs: int
    lr: float
    lr_decay: float = 1.0
    coverage: float = 0.0
    warmup: int = 0
    label_smoothing: float = 0.0
    keep_best_epoch: bool = False   # keep the weights of the epoch with the best validation BLEU (:class:`BestEpoch`)

    def training(self) -> dict:
        """The keyword arguments of ``train_or_load`` and ``fit`` (besides config and data;
        ``keep_best_epoch`` is not one: ``scripts/real_data_recipes.py`` applies it)."""
        settings = {k: v for k, v in asdict(self).items() if k not in ("config", "keep_best_epoch")}
        return {k: v for k, v in settings.items() if v or k in ("epochs", "lr", "lr_decay")}

    def record(self) -> dict:
        """The recipe as the results file records it: ``{"config": {...}, "training": {...}}``."""
        return {"config": config_to_dict(self.config),
                "training": {k: v for k, v in asdict(self).items() if k != "config"}}


def settings_of(record: dict) -> dict:
    """A run's model and training settings as one dict, from a results-file row or
    :meth:`Recipe.record`: two runs with equal settings trained the same recipe."""
    return {**record["config"], **record["training"]}


def recipe_runs(runs: list[dict], model: str, lang: str = "fr", units: str = "subwords") -> dict[int, dict]:
    """The results-file rows among ``runs`` that trained exactly ``RECIPES[model]`` on ``lang`` with
    ``units``, by seed (in seed order). Filter ``runs`` by code fingerprint first."""
    wanted = settings_of(RECIPES[model].record())
    found = {r["seed"]: r for r in runs
             if r["model"] == model and r["lang"] == lang and r["units"] == units and settings_of(r) == wanted}
    return dict(sorted(found.items()))


FLAGS = {"label_smoothing": "--smoothing", "lr_decay": "--lr-decay", "keep_best_epoch": "--keep-best-epoch",
         "hidden_size": "--hidden", "emb_size": "--emb", "decoder_init": "--init", "d_model": "--d-model",
         "ff_size": "--ff", "scale_embeddings": "--scale-embeddings", "tie_embeddings": "--tie-embeddings"}
"""``scripts/real_data_recipes.py``'s flag for a setting whose flag is not ``--`` + its name."""


def change_of(run: dict, model: str) -> tuple[tuple[str, object], ...]:
    """The settings in which a results-file row differs from ``RECIPES[model]``, sorted by name:
    ``()`` for the recipe itself."""
    kept = settings_of(RECIPES[model].record())
    return tuple(sorted((k, v) for k, v in settings_of(run).items() if kept.get(k) != v))


def describe_change(change: tuple[tuple[str, object], ...]) -> str:
    """A change as the script's flags that make it (``--smoothing 0.1 --warmup 200``; ``--no-tie-embeddings``
    for a switch turned off); ``"the kept recipe"`` for no change."""
    def flag(name: str, value: object) -> str:
        option = FLAGS.get(name, "--" + name.replace("_", "-"))
        if isinstance(value, bool):
            return option if value else "--no-" + option[2:]
        return f"{option} {value:g}" if isinstance(value, float) else f"{option} {value}"

    return " ".join(flag(name, value) for name, value in change) or "the kept recipe"


def runs_by_change(runs: list[dict], model: str, lang: str = "fr", units: str = "subwords") -> dict[tuple, dict]:
    """The rows among ``runs`` of ``model`` on ``lang`` with ``units``, grouped by :func:`change_of`:
    ``{change: {seed: row}}`` (seeds in order; ``()``: the recipe itself, as :func:`recipe_runs`
    gives it). Filter ``runs`` by code fingerprint first."""
    groups: dict[tuple, dict] = {}
    for r in runs:
        if r["model"] == model and r["lang"] == lang and r["units"] == units:
            groups.setdefault(change_of(r, model), {})[r["seed"]] = r
    return {change: dict(sorted(seeds.items())) for change, seeds in groups.items()}


def noise_threshold(differences: list[float], sd: float) -> float:
    """The size a difference between two recipes must beat to count: two standard deviations of it.

    One seed each (``differences`` has one value): two single runs, whose difference has sd √2 × one
    run's ``sd``, so 2·√2·sd. Several seeds (the same seeds for both recipes, paired: the same seed
    gives the same initial weights and batch order where the models match): the mean of the
    per-seed differences, whose sd is their own sd / √n, so 2·sd(differences)/√n."""
    if not differences:
        raise ValueError("no difference to judge")
    if len(differences) == 1:
        return 2 * math.sqrt(2) * sd
    return 2 * statistics.stdev(differences) / math.sqrt(len(differences))


@dataclass(frozen=True)
class Comparison:
    """One recipe against another on ``metric``, seed by seed over the seeds both ran (paired):
    ``differences[i]`` is the other recipe's score minus the base's with ``seeds[i]``, ``threshold``
    :func:`noise_threshold`'s."""

    metric: str
    seeds: tuple[int, ...]
    base: tuple[float, ...]
    differences: tuple[float, ...]
    threshold: float

    @property
    def delta(self) -> float:
        """The mean difference (other − base)."""
        return statistics.mean(self.differences)

    @property
    def beyond_noise(self) -> bool:
        return abs(self.delta) > self.threshold

    @property
    def verdict(self) -> str:
        if not self.beyond_noise:
            return "within the noise"
        return ("better" if self.delta > 0 else "worse") + " beyond the noise"


def compare(base: dict[int, dict], other: dict[int, dict], metric: str, sd: float) -> Comparison:
    """``other`` against ``base`` (``{seed: row}`` each) on ``metric``, over the seeds both ran, with
    :func:`noise_threshold` (``sd``: one run's standard deviation, used when they share one seed)."""
    seeds = tuple(sorted(set(base) & set(other)))
    if not seeds:
        raise ValueError(f"no seed in common: {sorted(base)} vs {sorted(other)}")
    differences = tuple(other[s][metric] - base[s][metric] for s in seeds)
    return Comparison(metric, seeds, tuple(base[s][metric] for s in seeds), differences,
                      noise_threshold(list(differences), sd))


def seed_sd(group: dict[int, dict], metric: str) -> float:
    """The standard deviation of ``metric`` over a group's seeds (at least two): one run's noise."""
    if len(group) < 2:
        raise ValueError(f"one seed ({sorted(group)}) has no standard deviation: run seeds 0 1 2")
    return statistics.stdev(r[metric] for r in group.values())


def mean_sd(values: list[float], digits: int = 1) -> str:
    """``"12.3 ± 0.4"`` (one value: ``"12.3"``)."""
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


COLUMNS = {"valid_greedy": "greedy BLEU", "valid_beam": "beam BLEU", "valid_beam_chrf": "beam chrF",
           "greedy": "greedy BLEU", "beam": "beam BLEU", "beam_chrf": "beam chrF", "seconds": "train s",
           "params": "parameters"}
"""The headers :func:`search_table` and :func:`gap_table` give results-file columns (split named in the title)."""


BUDGET = 1.1
"""A change whose training costs more than this many times the kept recipe's (:func:`relative_cost`)
is over the notebooks' CPU budget: measured and shown, but not one a recipe may adopt."""


def relative_cost(group: dict[int, dict], kept: dict[int, dict]) -> float:
    """How many times the kept recipe's training a group of runs costs, estimated as epochs ×
    parameters (each epoch passes every training pair through every weight): measured seconds would
    say more, but on a shared machine they measure the load."""
    def cost(runs: dict[int, dict]) -> float:
        return statistics.mean(r["training"]["epochs"] * r["params"] for r in runs.values())
    return cost(group) / cost(kept)


def search_verdicts(groups: dict[tuple, dict], metric: str = "valid_beam", sd: float | None = None
                    ) -> dict[tuple, Comparison]:
    """Every change of a search (:func:`runs_by_change`'s groups) against the kept recipe ``groups[()]``
    on ``metric``, as :func:`search_table` prints them: ``{change: Comparison}``. ``sd``: one run's
    standard deviation (default: the kept recipe's seeds')."""
    kept = groups[()]
    sd = seed_sd(kept, metric) if sd is None else sd
    return {change: compare(kept, g, metric, sd) for change, g in groups.items() if change}


def best_within_budget(groups: dict[tuple, dict], metric: str = "valid_beam") -> tuple[tuple, Comparison]:
    """Among the changes of a search whose training costs at most :data:`BUDGET` × the kept recipe's,
    the one that comes closest to beating it beyond its comparison's noise on ``metric`` (the largest
    Δ minus noise: a three-seed change has a smaller noise than a one-seed one), and its comparison.
    None of them beats the kept recipe beyond the noise exactly when this one does not."""
    found = {c: v for c, v in search_verdicts(groups, metric).items()
             if relative_cost(groups[c], groups[()]) <= BUDGET}
    if not found:
        raise ValueError("no change within the budget was tried")
    best = max(found, key=lambda c: found[c].delta - found[c].threshold)
    return best, found[best]


def search_table(groups: dict[tuple, dict], metric: str = "valid_beam", sd: float | None = None,
                 columns: tuple[str, ...] = ("valid_greedy", "valid_beam", "valid_beam_chrf", "params")) -> str:
    """A recipe search as text: the kept recipe (``groups[()]``) and every change from it, best first
    by ``metric``, with each change's mean ``columns`` over its seeds, its training cost relative to
    the kept recipe's (:func:`relative_cost`), its difference Δ from the kept recipe over the same
    seeds (:func:`compare`), the noise threshold for that comparison and the verdict (``over the
    budget`` added past :data:`BUDGET`). ``sd``: one run's standard deviation (default: the kept
    recipe's seeds')."""
    kept = groups[()]
    sd = seed_sd(kept, metric) if sd is None else sd
    found = search_verdicts(groups, metric, sd)
    width = max([len(describe_change(c)) for c in groups] + [27])
    lines = [f"{'change from the kept recipe':{width}}  seeds" + "".join(f"{COLUMNS.get(c, c):>12}" for c in columns)
             + f"{'cost':>6}{'Δ ' + COLUMNS.get(metric, metric):>14}{'noise':>7}  verdict"]
    for change in [()] + sorted(found, key=lambda c: -found[c].delta):
        g = groups[change]
        means = [statistics.mean(r[c] for r in g.values()) for c in columns]
        cost = relative_cost(g, kept)
        line = f"{describe_change(change):{width}}  {','.join(map(str, g)):5}" + "".join(
            f"{m:12,.0f}" if c == "params" else f"{m:12.1f}" for c, m in zip(columns, means, strict=True))
        line += f"{cost:5.1f}×"
        if change:
            line += (f"{found[change].delta:+14.1f}{found[change].threshold:7.1f}  {found[change].verdict}"
                     + (", over the budget" if cost > BUDGET else ""))
        lines.append(line)
    lines.append(f"(each column: the mean over the seeds listed; cost: epochs × parameters, the kept recipe's = 1 "
                 f"(over {BUDGET:g}×: over the notebooks' CPU budget); Δ: minus the kept recipe over the same seeds; "
                 f"noise: one seed, 2·√2 × one run's sd {sd:.2f} = {noise_threshold([0.0], sd):.1f}; several, 2 × the "
                 f"sd of the per-seed differences / √seeds)")
    return "\n".join(lines)


def gap_table(rows: list[tuple[str, dict[int, dict]]], metric: str = "valid_beam") -> str:
    """How much of the gap between the first row's recipe and the last's each recipe between them
    closes, on ``metric``: per row ``(name, {seed: row})``, the mean ± sd over its seeds, its difference
    from the first row over the seeds both ran (:func:`compare`, paired), the noise threshold, and
    that difference as a share of the gap (the last row minus the first, over the same seeds)."""
    if len(rows) < 2:
        raise ValueError("give the base recipe, the recipes to measure and the one to close the gap to")
    (base_name, base), (_, top) = rows[0], rows[-1]
    sd = seed_sd(base, metric)
    width = max(len(name) for name, _ in rows)
    lines = [f"{'':{width}}  seeds{COLUMNS.get(metric, metric) + ', mean ± sd':>22}{'Δ':>7}{'noise':>7}"
             f"{'gap closed':>12}  Δ per seed"]
    for name, group in rows:
        line = f"{name:{width}}  {','.join(map(str, group)):5}{mean_sd([r[metric] for r in group.values()]):>22}"
        if group is not base:
            c, gap = compare(base, group, metric, sd), compare(base, top, metric, sd)
            share = c.delta / gap.delta if set(c.seeds) == set(gap.seeds) else float("nan")
            line += (f"{c.delta:+7.1f}{c.threshold:7.1f}{share:12.0%}  "
                     + ", ".join(f"{d:+.1f}" for d in c.differences) + f"   {c.verdict}")
        lines.append(line)
    lines.append(f"(Δ: minus {base_name} over the same seeds; noise: 2 × the sd of the per-seed differences / √seeds)")
    return "\n".join(lines)


RECIPES: dict[str, Recipe] = {
    # notebook 06's model: Luong attention (dot) on a bidirectional GRU, with the coverage penalty; label smoothing
    # 0.1 chosen by notebook 08's search on validation BLEU (results/real_data_recipes.jsonl)
    "rnn": Recipe(RNNConfig(decoder="luong", score="dot", emb_size=128, hidden_size=192, dropout=0.1,
                            bidirectional=True), epochs=8, lr=3e-3, lr_decay=1.0, coverage=1.0, label_smoothing=0.1),
    # the same encoder, sizes and training, and a decoder without attention (notebook 01's), no coverage (no attention)
    "vanilla": Recipe(RNNConfig(decoder="vanilla", emb_size=128, hidden_size=192, dropout=0.1,
                                bidirectional=True), epochs=8, lr=3e-3, lr_decay=1.0, label_smoothing=0.1),
    # notebook 08's Transformer: post-norm, chosen by the ablation in results/real_data_recipes.jsonl (notebook 08, §3)
    "transformer": Recipe(TransformerConfig(d_model=128, heads=4, ff_size=256, layers=2, dropout=0.1, norm="post"),
                          epochs=8, lr=2e-3, lr_decay=0.1, warmup=200, label_smoothing=0.1),
}
"""The recipes of notebooks 06 (``"rnn"``) and 08 (all three), and the script's defaults."""


def layer_means(anchors_per_head: dict[str, float]) -> list[float]:
    """The mean over each layer's heads of a results-file row's ``anchors_per_head``
    (``{"layer.head": share of anchors on their translation}``, from 0), first layer first."""
    by_layer: dict[int, list[float]] = defaultdict(list)
    for key, share in anchors_per_head.items():
        by_layer[int(key.split(".")[0])].append(share)
    return [statistics.mean(by_layer[layer]) for layer in sorted(by_layer)]


def is_short(pair: tuple[str, str], lang: str = "fr", max_tokens: int = MAX_TOKENS) -> bool:
    """Whether both sides of ``(source, english)`` have at most ``max_tokens`` tokens."""
    src, en = pair
    return len(tokenize(src, lang)) <= max_tokens and len(tokenize(en, "en")) <= max_tokens


def shortest(pairs: list[tuple[str, str]], n_pairs: int = N_PAIRS) -> list[tuple[str, str]]:
    """The ``n_pairs`` pairs with the shortest English sentences in characters (a stable sort:
    ties keep the file's order)."""
    return sorted(pairs, key=lambda pair: len(pair[1]))[:n_pairs]


def select_pairs(raw: list[tuple[str, str]], lang: str = "fr", max_tokens: int = MAX_TOKENS,
                 n_pairs: int = N_PAIRS) -> list[tuple[str, str]]:
    """The pairs notebooks 06 and 08 train on: short on both sides, then the shortest English."""
    return shortest([pair for pair in raw if is_short(pair, lang, max_tokens)], n_pairs)


def real_splits(lang: str = "fr", path: str | Path | None = None, max_tokens: int = MAX_TOKENS,
                n_pairs: int = N_PAIRS) -> tuple[list, list, list]:
    """Train, valid and test ``(source, english)`` pairs of the Tatoeba data for ``lang`` (the file
    at ``path``, else :func:`utils.download.find_tatoeba`'s), selected (:func:`select_pairs`) and
    split as the notebooks do."""
    pairs = select_pairs(load_tatoeba(path if path is not None else find_tatoeba(lang), lang), lang, max_tokens,
                         n_pairs)
    return split_by_sentence(pairs, SPLIT, seed=SPLIT_SEED)


def real_corpus(splits: tuple[list, list, list], lang: str = "fr", units: str = "subwords",
                subwords: int = SUBWORDS, min_freq: int = MIN_FREQ, batch_size: int = BATCH_SIZE) -> ParallelData:
    """The splits as ``units``: ``"words"`` (a word enters the vocabulary when seen ``min_freq``
    times in training) or ``"subwords"`` (``subwords`` pieces per language, learnt from the
    training split's words)."""
    if units not in ("words", "subwords"):
        raise ValueError(f"units={units!r}: choose 'words' or 'subwords'")
    words = ParallelData.from_text_pairs(*splits, min_freq=min_freq, batch_size=batch_size, src_lang=lang)
    return words.with_subwords(subwords) if units == "subwords" else words


def real_corpora(splits: tuple[list, list, list], lang: str = "fr", subwords: int = SUBWORDS,
                 batch_size: int = BATCH_SIZE) -> dict[str, ParallelData]:
    """The splits as words and as subword pieces (:func:`real_corpus`, both from the same word
    pairs): ``{"words": ..., "subwords": ...}``."""
    words = real_corpus(splits, lang, "words", batch_size=batch_size)
    return {"words": words, "subwords": words.with_subwords(subwords)}


def grouped_references(test: list[SentencePair]) -> tuple[list[list[str]], list[list[list[str]]]]:
    """Each *distinct* test source sentence once (its word tokens) and all its English
    references (word tokens): several translations of one sentence all count as correct."""
    groups, sources = defaultdict(list), {}
    for p in test:
        key = normalize(p.src)
        groups[key].append(p.tgt_words)
        sources.setdefault(key, p.src_words)
    return [sources[key] for key in groups], list(groups.values())


@dataclass
class Decoded:
    """A model's translations of the test sentences: ``words[i]`` sentence ``i``'s as English
    words, the BLEU and chrF, the seconds decoding took and how (``"greedy, in batches"`` or
    ``"beam k, in batches"``)."""

    words: list[list[str]]
    bleu: float
    chrf: float
    seconds: float
    search: str

    @property
    def sentences_per_second(self) -> float:
        return len(self.words) / self.seconds


def decode_and_score(model: Seq2Seq, corpus: ParallelData, sources: list[list[str]],
                     references: list[list[list[str]]], beam_size: int = BEAM_SIZE, alpha: float = ALPHA) -> Decoded:
    """Translate word-token ``sources`` with ``model`` (trained on ``corpus``'s units) and score the
    words against all ``references`` (:func:`utils.metrics.multi_reference_bleu` and
    :func:`~utils.metrics.multi_reference_chrf`).

    ``beam_size=1`` is greedy search, run in batches of 128 sentences (the same words as one at a
    time: ``tests/test_search_and_translate.py::test_batched_greedy_equals_one_by_one`` checks it for
    every decoder); a beam search runs in batches of 128 sentences too
    (:func:`utils.search.batched_beam_search`, whose hypotheses equal :func:`utils.search.beam_search`'s
    for each sentence alone: ``tests/test_batched_beam_search.py`` checks it for every decoder)."""
    start = time.perf_counter()
    units = [corpus.source_units(s) for s in sources]
    if beam_size == 1:
        hyps, _ = translate_tokens(model, units, corpus.src_vocab, corpus.tgt_vocab)
        search = "greedy, in batches"
    else:
        hyps = [corpus.tgt_vocab.decode(h[0].ids) for h in beam_hypotheses(model, units, corpus.src_vocab,
                                                                           corpus.tgt_vocab, beam_size=beam_size,
                                                                           alpha=alpha)]
        search = f"beam {beam_size}, in batches"
    words = [corpus.target_words(h) for h in hyps]
    seconds = time.perf_counter() - start
    return Decoded(words, multi_reference_bleu(words, references), multi_reference_chrf(words, references), seconds,
                   search)


class BestEpoch:
    """An ``on_step_end`` callback for :func:`utils.train.fit` that stops a run at its best epoch
    after the fact: at the end of each epoch (every ``steps_per_epoch`` updates) it scores the
    model with ``score(model)`` (in eval mode; higher is better, e.g. validation BLEU) and keeps a
    copy of the weights of the best epoch so far (the earliest of equals). After training,
    :meth:`restore` puts them back. ``scores[e]`` is epoch ``e + 1``'s score, ``seconds`` the time
    the scoring took (not training time)."""

    def __init__(self, steps_per_epoch: int, score: Callable[[Seq2Seq], float]):
        if steps_per_epoch < 1:
            raise ValueError("steps_per_epoch must be at least 1")
        self.steps_per_epoch, self.score = steps_per_epoch, score
        self.scores: list[float] = []
        self.state: dict | None = None
        self.seconds = 0.0

    @property
    def epoch(self) -> int:
        """The best epoch so far (from 1; 0 before the first epoch ends)."""
        return 1 + self.scores.index(max(self.scores)) if self.scores else 0

    def __call__(self, step: int, model: Seq2Seq) -> None:
        if step % self.steps_per_epoch:
            return
        start = time.perf_counter()
        model.eval()
        self.scores.append(float(self.score(model)))
        if self.epoch == len(self.scores):                  # this epoch is the best so far
            self.state = copy.deepcopy(model.state_dict())
        self.seconds += time.perf_counter() - start

    def restore(self, model: Seq2Seq) -> Seq2Seq:
        """``model`` with the best epoch's weights."""
        if self.state is None:
            raise RuntimeError("no epoch has ended: train with this callback first")
        model.load_state_dict(self.state)
        return model


def word_maps(model: Seq2Seq, corpus: ParallelData, pairs: list[SentencePair],
              head: tuple[int, int] | None = None) -> list[torch.Tensor]:
    """Teacher-forced attention on ``pairs``, one ``[English words + 1, source words + 1]`` map per
    pair (pieces merged into words, :func:`utils.subwords.word_attention`). ``head=(layer, h)``: a
    Transformer's one cross-attention head instead of the map its decoder reports."""
    if head is None:
        maps = teacher_forced_attention(model, corpus, pairs=pairs)
    else:
        with model.decoder.showing_head(*head):
            maps = teacher_forced_attention(model, corpus, pairs=pairs)
    if corpus.src_subwords is None:
        return maps
    return [word_attention(w, p.src_tokens, p.tgt_tokens) for p, w in zip(pairs, maps, strict=True)]


def anchor_groups(lang: str = "fr") -> dict[str, dict[str, str]]:
    """The anchor lexicon of ``lang`` (:data:`utils.languages.ANCHOR_WORDS`) in its two groups,
    ``{"names": {...}, "nouns": {...}}``: source word → its one-word English translation."""
    if lang not in ANCHOR_WORDS:
        raise ValueError(f"no anchor words for {lang!r}: add its lexicon (names first, then nouns, each with its "
                         "one-word English translation) to ANCHOR_WORDS in utils/languages.py")
    lexicon = ANCHOR_WORDS[lang]
    names = list(lexicon)[:ANCHOR_NAMES]
    return {"names": {w: lexicon[w] for w in names}, "nouns": {w: lexicon[w] for w in lexicon if w not in names}}


def anchor_statistics(maps: list[torch.Tensor], pairs: list[SentencePair], lang: str = "fr") -> AttentionPeaks:
    """Where word-level ``maps`` (as :func:`word_maps` gives) peak on ``pairs``: how many English
    words peak on the source ``<eos>``, and each anchor word's offset from its translation
    (:func:`utils.metrics.attention_peaks` with :func:`anchor_groups`)."""
    return attention_peaks(maps, [p.src_words for p in pairs], [p.tgt_words for p in pairs], anchor_groups(lang))


RESULTS = Path(__file__).resolve().parents[1] / "results" / "real_data_recipes.jsonl"
"""Where ``scripts/real_data_recipes.py`` appends one JSON line per trained model."""
