"""Benchmark: decoding speed of greedy search, beam search one sentence at a time, and batched beam search.

    python scripts/beam_benchmark.py                        # notebook 06's RNN and notebook 08's Transformer
    python scripts/beam_benchmark.py --models rnn --repeats 1 --sentences 300

The models are :data:`utils.real_data.RECIPES`' ``rnn`` (notebook 06's) and ``transformer``
(notebook 08's), on notebook 06's French subword data, through :func:`utils.checkpoints.train_or_load`
with the notebooks' settings: loaded from the model cache when a notebook (or an earlier run) trained
them, else trained once (minutes) and cached. Each decodes the distinct test sentences three ways:

* greedy search in batches of ``--batch-size`` sentences (:func:`utils.translate.translate_tokens`);
* beam search (``--beam``, length penalty 0.6) one sentence at a time, :func:`utils.search.beam_search`
  called for each (what ``beam_hypotheses`` did before the batched search);
* the same beam search in batches of ``--batch-size`` sentences
  (:func:`utils.search.batched_beam_search` through :func:`utils.translate.beam_hypotheses`).

It prints sentences per second (the median of ``--repeats`` runs, on ``--threads`` CPU threads) by
the wall clock and by the CPU time this process used (``time.process_time``, all its threads: on a
machine shared with other work the wall clock measures the other work too, the CPU time much less),
the BLEU of each (multi-reference, on words, as notebooks 06 and 08 compute it), and how many
sentences the two beam searches translate differently (0: the same translations). It asserts
nothing. The load average is printed at the start and the end.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from utils.checkpoints import train_or_load  # noqa: E402
from utils.metrics import multi_reference_bleu  # noqa: E402
from utils.real_data import ALPHA, RECIPES, grouped_references, real_corpora, real_splits  # noqa: E402
from utils.runtime import describe_environment, get_device  # noqa: E402
from utils.search import beam_search, default_max_len  # noqa: E402
from utils.translate import beam_hypotheses, translate_tokens  # noqa: E402

MODELS = {"rnn": "notebook 06's RNN (Luong dot, bidirectional GRU)", "transformer": "notebook 08's Transformer"}


def one_at_a_time(model, corpus, units: list[list[str]], beam_size: int) -> list[list[str]]:
    """The best beam of :func:`beam_search` for each sentence, one call per sentence."""
    device = next(model.parameters()).device
    src_v, tgt_v = corpus.src_vocab, corpus.tgt_vocab
    best = []
    for tokens in units:
        src = torch.tensor([src_v.encode(tokens) + [src_v.eos_id]], device=device)   # [1, S]
        mask = torch.ones_like(src, dtype=torch.bool)
        hyps = beam_search(model, src, mask, tgt_v.sos_id, tgt_v.eos_id, default_max_len(src.size(1)), beam_size,
                           ALPHA, tgt_v.pad_id)
        best.append(tgt_v.decode(hyps[0].ids))
    return best


def searches(model, corpus, units, beam_size: int, batch_size: int) -> dict:
    """Each search as a function of no arguments returning the output units of every sentence."""
    src_v, tgt_v = corpus.src_vocab, corpus.tgt_vocab
    return {
        "greedy, batched": lambda: translate_tokens(model, units, src_v, tgt_v, batch_size=batch_size)[0],
        f"beam {beam_size}, one at a time": lambda: one_at_a_time(model, corpus, units, beam_size),
        f"beam {beam_size}, batched": lambda: [tgt_v.decode(h[0].ids) for h in beam_hypotheses(
            model, units, src_v, tgt_v, beam_size, ALPHA, batch_size=batch_size)],
    }


def load_average() -> str:
    return "load average " + ", ".join(f"{x:.1f}" for x in os.getloadavg()) + f" on {os.cpu_count()} CPUs"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--lang", default="fr")
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128, help="sentences per batch (greedy and batched beam)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each search; the median is printed")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sentences", type=int, help="only the first N distinct test sentences (default: all)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = get_device()
    print(describe_environment(device))
    corpus = real_corpora(real_splits(args.lang), args.lang)["subwords"]
    sources, references = grouped_references(corpus.test)
    sources, references = sources[:args.sentences], references[:args.sentences]
    units = [corpus.source_units(s) for s in sources]
    print(f"{len(sources):,} distinct test sentences ({args.lang}→en, subwords); {args.repeats} runs each, "
          f"batches of {args.batch_size} sentences\n{load_average()} at the start\n")
    print(f"{'':37}{'sentences/s':>12}{'wall s, runs':>22}{'×greedy':>8}{'÷single':>8}   "
          f"{'CPU: sent./s':>12}{'×greedy':>8}{'÷single':>8}   {'BLEU':>5}")
    for name in args.models:
        recipe = RECIPES[name]
        model, _ = train_or_load(f"{name} ({MODELS[name]})", recipe.config, corpus, device=device, validate=True,
                                 verbose=False, **recipe.training())
        model.eval()
        speed, outputs = {}, {}
        for label, search in searches(model, corpus, units, args.beam, args.batch_size).items():
            wall, cpu = [], []
            for _ in range(args.repeats):
                start, start_cpu = time.perf_counter(), time.process_time()
                outputs[label] = search()
                wall.append(time.perf_counter() - start)
                cpu.append(time.process_time() - start_cpu)
            speed[label] = [len(units) / statistics.median(wall), len(units) / statistics.median(cpu)]
            bleu = multi_reference_bleu([corpus.target_words(h) for h in outputs[label]], references)
            columns = []
            for clock in (0, 1):
                greedy, single = speed["greedy, batched"][clock], speed.get(f"beam {args.beam}, one at a time")
                batched = "batched" in label and "beam" in label
                columns.append((speed[label][clock], greedy / speed[label][clock],
                                speed[label][clock] / single[clock] if batched else None))
            (s_wall, x_wall, d_wall), (s_cpu, x_cpu, d_cpu) = columns
            print(f"{name:12} {label:24}{s_wall:12,.0f}{' '.join(f'{s:6.2f}' for s in wall):>22}{x_wall:7.1f}×"
                  f"{f'{d_wall:7.1f}×' if d_wall else '':>8}   {s_cpu:12,.0f}{x_cpu:7.1f}×"
                  f"{f'{d_cpu:7.1f}×' if d_cpu else '':>8}   {bleu:5.2f}")
        one, batched = outputs[f"beam {args.beam}, one at a time"], outputs[f"beam {args.beam}, batched"]
        differ = sum(a != b for a, b in zip(one, batched, strict=True))
        print(f"{'':12} the two beam searches translate {differ} of {len(units):,} sentences differently\n")
    print(f"×greedy: how many times slower than greedy search; ÷single: how many times faster than beam search one "
          f"sentence at a time\n{load_average()} at the end")


if __name__ == "__main__":
    main()
