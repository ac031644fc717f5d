"""Translate a file, one sentence a line, with a saved model.

    python scripts/translate.py --model runs/rnn-fr/model.pt < input.txt > output.txt
    python scripts/translate.py --model runs/rnn-fr/model.pt --input input.txt --output output.txt --beam 5

``--model`` is a checkpoint of ``scripts/train.py`` (``model.pt``: it records the language, the units
and the subword models it was trained with) or of the model cache (``data/cache/models/*.pt``, written
by :func:`utils.checkpoints.train_or_load`: it records its vocabularies only, so the language is
``--lang`` (French by default), and for a subword model the subword models are rebuilt from notebook
06's data for that language and used only if they give exactly the checkpoint's vocabularies).

Each line is tokenised as the model's training data was (:func:`utils.text.tokenize`, then subword
pieces for a subword model), translated greedily or with ``--beam K`` (:mod:`utils.translate`,
``--batch-size`` sentences at a time, those of similar length together), and written as one English
line, in input order. An empty line (or one without a word) stays empty. Unknown words become
``<unk>`` and are named on stderr, with sentences longer than any the model was trained on; a
progress bar shows on stderr. A checkpoint whose vocabularies, subword models or language do not
match gets a clear error (exit status 2), never a translation in the wrong language.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from utils.checkpoints import CheckpointError, checkpoint_vocabularies, load_checkpoint  # noqa: E402
from utils.download import DataUnavailableError  # noqa: E402
from utils.languages import LANGUAGES, language_name  # noqa: E402
from utils.progress import Progress  # noqa: E402
from utils.provenance import VocabularyMismatchError, trained_with  # noqa: E402
from utils.runtime import get_device, use_cpu_threads  # noqa: E402
from utils.subwords import MARK, Subwords  # noqa: E402
from utils.text import SPECIALS, Vocab, detokenize, tokenize  # noqa: E402
from utils.translate import translate_tokens  # noqa: E402

SHOWN = 5   # lines named on stderr for each kind of warning; the rest are counted


class UsageError(ValueError):
    """A checkpoint or input the script cannot use: a message for the user, not a traceback."""


@dataclass
class Translator:
    """A loaded model and how to read its input: the language and (subword models) the pieces."""

    model: torch.nn.Module
    src_vocab: Vocab
    tgt_vocab: Vocab
    lang: str
    subwords: tuple[Subwords, Subwords] | None
    origin: str                      # what the checkpoint is, for the first line on stderr

    def units(self, tokens: list[str]) -> list[str]:
        return self.subwords[0].encode(tokens) if self.subwords is not None else tokens

    def words(self, units: list[str]) -> list[str]:
        return self.subwords[1].decode(units) if self.subwords is not None else units


def is_subword_vocabulary(vocab: Vocab) -> bool:
    """Whether a vocabulary holds sentencepiece pieces (some start with ``▁``) rather than words."""
    return any(token.startswith(MARK) for token in vocab.itos if token not in SPECIALS)


def check_subwords(path: Path, subwords: tuple[Subwords, Subwords], src_vocab: Vocab, tgt_vocab: Vocab) -> None:
    """Refuse subword models that cannot have made the vocabularies: every token of a vocabulary
    built from pieces is one of the pieces."""
    for side, model, vocab in (("source", subwords[0], src_vocab), ("target", subwords[1], tgt_vocab)):
        pieces = set(model.pieces())
        foreign = [t for t in vocab.itos if t not in SPECIALS and t not in pieces]
        if foreign:
            raise UsageError(f"{path}: its {side} subword model does not match its {side} vocabulary "
                             f"({len(foreign):,} of {len(vocab):,} tokens are not its pieces, e.g. {foreign[:3]}): "
                             "the file mixes two trainings; use the model.pt that scripts/train.py wrote")


def rebuilt_subwords(path: Path, lang: str, src_vocab: Vocab, tgt_vocab: Vocab) -> tuple[Subwords, Subwords]:
    """The subword models of notebook 06's data for ``lang``, if they give exactly these vocabularies."""
    from utils.real_data import real_corpora, real_splits

    try:
        corpus = real_corpora(real_splits(lang), lang)["subwords"]
    except DataUnavailableError as error:
        raise UsageError(f"{path} is a subword model from the model cache, which carries no subword models, and "
                         f"notebook 06's {language_name(lang)} data to rebuild them is not available ({error}). "
                         "Translate with a model.pt of scripts/train.py, which carries them") from None
    if corpus.src_vocab != src_vocab or corpus.tgt_vocab != tgt_vocab:
        raise UsageError(f"{path}: its vocabularies are not those of notebook 06's {language_name(lang)} subword "
                         f"data ({len(src_vocab):,}/{len(tgt_vocab):,} tokens there, "
                         f"{len(corpus.src_vocab):,}/{len(corpus.tgt_vocab):,} here), so its subword models cannot "
                         "be rebuilt: a model-cache file carries none. Give --lang the language it was trained "
                         "on, or translate with a model.pt of scripts/train.py, which carries them")
    return corpus.src_subwords, corpus.tgt_subwords


def load_translator(path: str | Path, lang: str | None = None, device: torch.device | str = "cpu") -> Translator:
    """The model in checkpoint ``path`` and how to read its input (see the module's docstring).

    ``lang`` must agree with the language a ``scripts/train.py`` checkpoint records; for a
    model-cache checkpoint it says the language (default French). Raises :class:`UsageError` or
    :class:`~utils.checkpoints.CheckpointError` with a message for the user."""
    path = Path(path)
    if lang is not None and (lang not in LANGUAGES or lang == "en"):
        raise UsageError(f"--lang {lang}: choose one of {[code for code in LANGUAGES if code != 'en']}")
    src_vocab, tgt_vocab = checkpoint_vocabularies(path)
    model, _, extra = load_checkpoint(path, src_vocab, tgt_vocab, device)
    model.eval()
    identity = extra.get("identity") if isinstance(extra.get("identity"), dict) else None
    if identity is not None:                          # scripts/train.py: language, units and pieces recorded
        trained = identity.get("lang")
        if lang is not None and lang != trained:
            raise UsageError(f"{path} translates {language_name(trained)} ({trained}) into English, not "
                             f"{language_name(lang)} ({lang}): leave --lang out, or give a model trained on {lang}")
        units = identity.get("data", {}).get("units", "words")
        subwords = None
        if units == "subwords":
            if not extra.get("subwords"):
                raise UsageError(f"{path}: a subword model whose subword models are missing from the checkpoint")
            subwords = tuple(Subwords.from_tensor(t) for t in extra["subwords"])
            check_subwords(path, subwords, src_vocab, tgt_vocab)
        elif is_subword_vocabulary(src_vocab):
            raise UsageError(f"{path}: it says it was trained on words, but its vocabulary holds subword pieces")
        return Translator(model, src_vocab, tgt_vocab, trained, subwords,
                          f"a scripts/train.py checkpoint ({trained}→en, {units})")
    lang = lang or "fr"                               # a model-cache file: the vocabularies are all it records
    if is_subword_vocabulary(src_vocab) != is_subword_vocabulary(tgt_vocab):
        raise UsageError(f"{path}: one vocabulary holds subword pieces and the other words; no model of the "
                         "series is trained so")
    subwords = rebuilt_subwords(path, lang, src_vocab, tgt_vocab) if is_subword_vocabulary(src_vocab) else None
    units = "subword pieces rebuilt from notebook 06's data" if subwords else "words"
    return Translator(model, src_vocab, tgt_vocab, lang, subwords, f"a checkpoint that does not record its "
                      f"language: reading {language_name(lang)} ({lang}, --lang) as {units}")


def warn(lines: list[str], what: str, err: TextIO) -> None:
    """Name the first few lines of a kind on stderr, and count the rest."""
    for line in lines[:SHOWN]:
        print(f"translate.py: {line}", file=err)
    if len(lines) > SHOWN:
        print(f"translate.py: … and {len(lines) - SHOWN:,} more lines with {what}", file=err)


def translate_lines(translator: Translator, lines: list[str], beam_size: int = 1, batch_size: int = 128,
                    progress: bool = True, err: TextIO | None = None) -> list[str]:
    """One English line for each line of ``lines`` (empty for an empty line or one without a word);
    warnings to ``err`` (default stderr)."""
    err = err or sys.stderr
    src_vocab = translator.src_vocab
    record = trained_with(translator.model)
    longest = record.max_src_len if record is not None else None
    units: dict[int, list[str]] = {}
    unknown, too_long, no_word = [], [], []
    for number, line in enumerate(lines, start=1):
        tokens = tokenize(line, translator.lang) if line.strip() else []
        if tokens and not any(any(ch.isalnum() for ch in t) for t in tokens):
            no_word.append(f"line {number} has no word to translate ({line.strip()[:40]!r}): left empty")
            continue
        if not tokens:
            continue
        units[number - 1] = translator.units(tokens)
        if src_vocab.unknown(units[number - 1]):
            unknown.append(f"line {number}: unknown {'piece' if translator.subwords else 'word'}(s) "
                           f"{src_vocab.unknown(units[number - 1])} read as <unk>")
        if longest is not None and len(units[number - 1]) > longest:
            too_long.append(f"line {number}: {len(units[number - 1])} tokens, longer than the {longest} of the "
                            "longest training sentence: expect a poor translation")
    warn(no_word, "no word", err)
    warn(unknown, "unknown words", err)
    warn(too_long, "sentences longer than the training sentences", err)
    out = [""] * len(lines)
    order = sorted(units, key=lambda i: len(units[i]))          # similar lengths together: little padding
    with Progress(total=len(order), desc="translating", unit="sentences", disable=not progress or None,
                  notebook=False) as bar:
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            hyps, _ = translate_tokens(translator.model, [units[i] for i in chunk], src_vocab, translator.tgt_vocab,
                                       batch_size=batch_size, beam_size=beam_size)
            for i, hyp in zip(chunk, hyps, strict=True):
                out[i] = detokenize(translator.words(hyp), "en")
            bar.update(len(chunk))
    return out


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True,
                        help="a checkpoint: scripts/train.py's model.pt, or a model-cache file")
    parser.add_argument("--input", help="a UTF-8 text file, one sentence a line (default: stdin)")
    parser.add_argument("--output", help="where the translations go, one a line (default: stdout)")
    parser.add_argument("--beam", type=int, default=1, metavar="K", help="beam search with K beams (default 1: greedy)")
    parser.add_argument("--batch-size", type=int, default=128, help="sentences translated at once (default 128)")
    parser.add_argument("--lang", help="the source language: checked against a scripts/train.py checkpoint; "
                        "for a model-cache checkpoint, which does not record it, the language (default fr)")
    parser.add_argument("--device", help="cpu or cuda (default: a GPU when there is one; SEQ2SEQ_DEVICE)")
    parser.add_argument("--threads", type=int, help="CPU threads (default: SEQ2SEQ_CPU_THREADS or 2)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    args = parser.parse_args(argv)
    for name in ("beam", "batch_size", "threads"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def main(argv=None, stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
    args = parse_args(argv)
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    try:
        device = get_device(args.device)
        if device.type == "cpu":
            use_cpu_threads(args.threads)
        translator = load_translator(args.model, args.lang, device)
        print(f"translate.py: {args.model}: {translator.origin}", file=sys.stderr)
        if args.input is not None:
            source = Path(args.input)
            if not source.is_file():
                raise UsageError(f"--input {source}: " + ("no such file" if not source.exists() else "not a file"))
            text = source.read_text(encoding="utf-8")
        else:
            text = stdin.read()
        lines = [line.removesuffix("\r") for line in text.split("\n")]   # only \n ends a line
        if lines[-1] == "":
            lines.pop()                                  # the end of the last line, not an empty line
        out = translate_lines(translator, lines, args.beam, args.batch_size, args.progress)
        result = "".join(line + "\n" for line in out)
        if args.output is not None:
            Path(args.output).write_text(result, encoding="utf-8")
        else:
            stdout.write(result)
    except (UsageError, CheckpointError, VocabularyMismatchError, FileNotFoundError, UnicodeDecodeError) as error:
        print(f"translate.py: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
