"""scripts/translate.py: a file translated with a model trained here, line for line as ``utils.translate``
translates each sentence, and checkpoints that do not match refused with a clear error.

The models are scripts/train.py's, tiny (a few thousand weights, one or two epochs on 240 synthetic
pairs written as a Tatoeba file): each trains in seconds."""
from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path

import pytest
import torch
from test_train_script import TINY, corpus, train_script  # noqa: F401 (corpus: the fixture, 240 pairs)

from utils.checkpoints import checkpoint_vocabularies, load_checkpoint, save_checkpoint
from utils.subwords import Subwords
from utils.text import detokenize, tokenize
from utils.translate import translate, translate_tokens

ROOT = Path(__file__).resolve().parents[1]


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(f"{name}_script", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module           # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


translate_script = load_script("translate")
LINES = ["Le chat dort.", "", "la petite fille voit le grand chien bleu .", "   ", "Zorro mange une pomme !",
         "...", "il court."]                  # an empty line, a blank one, an unknown word, no word at all


@pytest.fixture(scope="module", params=["words", "subwords"])
def checkpoint(request, tmp_path_factory) -> Path:
    """scripts/train.py's model.pt of a tiny model on words or on subword pieces."""
    data_file = request.getfixturevalue("corpus")
    out = tmp_path_factory.mktemp(request.param)
    units = [] if request.param == "words" else \
        ["--set", "units=subwords", "--set", "subword_vocab=120", "--set", "epochs=1"]
    train_script.main(["--data", str(data_file), *TINY, *units, "--out", str(out), "--device", "cpu", "--threads", "1",
                       "--no-progress", "--bleu-sentences", "10"])
    return out / "model.pt"


def is_subword_model(path: Path) -> bool:
    return torch.load(path, weights_only=True)["extra"]["subwords"] is not None


def run(*args: str, stdin: str = "") -> str:
    """The script in this process (one thread, no progress bar): what it writes to stdout."""
    out = io.StringIO()
    translate_script.main([*args, "--threads", "1", "--no-progress"], stdin=io.StringIO(stdin), stdout=out)
    return out.getvalue()


def refused(capsys, *args: str) -> str:
    """The message of a run that must stop with exit status 2 and no traceback."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        run(*args, stdin="le chat dort.\n")
    assert stop.value.code == 2
    message = capsys.readouterr().err
    assert "Traceback" not in message and "translate.py: error:" in message
    return message


def expected(path: Path, beam_size: int = 1) -> list[str]:
    """Each line of LINES through utils.translate on its own: greedy ``translate``, or the best beam."""
    src_vocab, tgt_vocab = checkpoint_vocabularies(path)
    model, _, extra = load_checkpoint(path, src_vocab, tgt_vocab)
    subwords = tuple(Subwords.from_tensor(t) for t in extra["subwords"]) if extra["subwords"] else None
    lines = []
    for line in LINES:
        if not any(ch.isalnum() for ch in line):
            lines.append("")
        elif beam_size == 1:
            lines.append(detokenize(translate(model, line, src_vocab, tgt_vocab, lang="fr", subwords=subwords).output,
                                    "en"))
        else:
            tokens = tokenize(line, "fr")
            units = subwords[0].encode(tokens) if subwords else tokens
            (best,), _ = translate_tokens(model, [units], src_vocab, tgt_vocab, beam_size=beam_size)
            lines.append(detokenize(subwords[1].decode(best) if subwords else best, "en"))
    return lines


def test_a_file_is_translated_line_for_line_as_translate_does(checkpoint, tmp_path, capsys):
    source, target = tmp_path / "in.fr", tmp_path / "out.en"
    source.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    assert run("--model", str(checkpoint), "--input", str(source), "--output", str(target)) == ""
    lines = target.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "" and len(lines[:-1]) == len(LINES)        # one line out for every line in
    assert lines[:-1] == expected(checkpoint)
    assert lines[1] == lines[3] == lines[5] == "" and all(lines[i] for i in (0, 2, 4, 6))
    err = capsys.readouterr().err
    assert "line 6 has no word" in err
    if not is_subword_model(checkpoint):                            # pieces spell any word of known letters
        assert "line 5: unknown word(s) ['zorro'" in err


def test_order_and_batches_do_not_change_a_line(checkpoint):
    """Stdin to stdout, the lines in another order, one sentence a batch, or the input without its
    final newline: the same translation for every line."""
    whole = run("--model", str(checkpoint), stdin="\n".join(LINES) + "\n").split("\n")[:-1]
    backwards = run("--model", str(checkpoint), "--batch-size", "1", stdin="\n".join(LINES[::-1])).split("\n")[:-1]
    assert backwards == whole[::-1]
    assert run("--model", str(checkpoint), stdin="") == ""


def test_beam_search_lines_equal_the_best_beam(checkpoint):
    out = run("--model", str(checkpoint), "--beam", "3", stdin="\r\n".join(LINES) + "\r\n").split("\n")[:-1]
    assert out == expected(checkpoint, beam_size=3)


def test_a_progress_bar_shows_on_stderr(checkpoint, capsys, monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    capsys.readouterr()
    translate_script.main(["--model", str(checkpoint), "--threads", "1"], stdin=io.StringIO("le chat dort.\n"),
                          stdout=io.StringIO())
    assert "translating" in capsys.readouterr().err


def test_a_model_cache_checkpoint_of_words_reads_lang(checkpoint, tmp_path):
    """A file train_or_load wrote records its vocabularies only: the script reads --lang (French by default)."""
    if is_subword_model(checkpoint):
        pytest.skip("words only: a subword model from the cache needs notebook 06's data (next test)")
    src_vocab, tgt_vocab = checkpoint_vocabularies(checkpoint)
    model, _, _ = load_checkpoint(checkpoint, src_vocab, tgt_vocab)
    cached = tmp_path / "0123456789abcdef.pt"
    save_checkpoint(cached, model, src_vocab, tgt_vocab)
    assert run("--model", str(cached), stdin="\n".join(LINES)).split("\n")[:-1] == expected(checkpoint)


# ----------------------------------------------------------------------------- refused
def test_another_language_is_refused(checkpoint, capsys):
    message = refused(capsys, "--model", str(checkpoint), "--lang", "de")
    assert "translates French (fr) into English, not German (de)" in message


def test_subword_models_that_did_not_make_the_vocabularies_are_refused(checkpoint, tmp_path, capsys):
    if not is_subword_model(checkpoint):
        pytest.skip("a subword model's check")
    blob = torch.load(checkpoint, weights_only=True)
    other = Subwords.train([["un", "deux", "trois", "quatre", "cinq", "six"] * 3] * 5, vocab_size=30)
    blob["extra"]["subwords"][0] = other.to_tensor()
    torch.save(blob, tmp_path / "mixed.pt")
    message = refused(capsys, "--model", str(tmp_path / "mixed.pt"))
    assert "source subword model does not match its source vocabulary" in message


def test_a_record_of_other_vocabularies_is_refused(checkpoint, tmp_path, capsys):
    blob = torch.load(checkpoint, weights_only=True)
    blob["trained_with"]["src_fingerprint"] = "0" * 16               # the model was trained with another vocabulary
    torch.save(blob, tmp_path / "other.pt")
    message = refused(capsys, "--model", str(tmp_path / "other.pt"))
    assert "source vocabulary is not the one this model was trained with" in message


def test_a_subword_model_from_the_cache_without_its_data_is_refused(checkpoint, tmp_path, capsys):
    if not is_subword_model(checkpoint):
        pytest.skip("a subword model's check")
    src_vocab, tgt_vocab = checkpoint_vocabularies(checkpoint)
    model, _, _ = load_checkpoint(checkpoint, src_vocab, tgt_vocab)
    save_checkpoint(tmp_path / "cached.pt", model, src_vocab, tgt_vocab)        # as train_or_load does: no extra
    message = refused(capsys, "--model", str(tmp_path / "cached.pt"))
    assert "model cache" in message or "model-cache" in message
    assert "scripts/train.py" in message


def test_not_a_checkpoint_and_missing_files_are_refused(tmp_path, capsys, checkpoint):
    (tmp_path / "notes.txt").write_text("not a model", encoding="utf-8")
    assert "not a checkpoint" in refused(capsys, "--model", str(tmp_path / "notes.txt"))
    assert "does not exist" in refused(capsys, "--model", str(tmp_path / "nothing.pt"))
    assert "--input" in refused(capsys, "--model", str(checkpoint), "--input", str(tmp_path / "nothing.txt"))
