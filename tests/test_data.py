"""Reading data files (corpus and Tatoeba), encodings, and the leak-free split."""
import io
import re
import shlex
import shutil
import subprocess
import warnings
import zipfile
from pathlib import Path

import pytest

from utils.data import (
    DataFormatError,
    DataWarning,
    english_share,
    load_corpus,
    load_synthetic_pairs,
    load_tatoeba,
    split_by_sentence,
)
from utils.text import detokenize, normalize, tokenize

FIXTURES = Path(__file__).resolve().parent / "fixtures"


# ----------------------------------------------------------------------------- files
def test_load_corpus_fixture():
    pairs = load_corpus(FIXTURES / "tiny_corpus.tsv")
    assert len(pairs) == 3  # the blank line is skipped
    assert pairs[1].fr == "la petite maison bleue."
    assert pairs[1].en == "the small blue house."
    assert pairs[1].alignment == ((0, 0), (1, 1), (2, 3), (3, 2), (4, 4))
    assert pairs[2].src_tokens == ["l'", "homme", "mange", "une", "pomme", "."]


def test_load_corpus_accepts_crlf(tmp_path):
    path = tmp_path / "crlf.tsv"
    path.write_bytes(b"le chat dort.\tthe cat sleeps.\t0-0 1-1 2-2 3-3\r\n")
    assert load_corpus(path)[0].alignment == ((0, 0), (1, 1), (2, 2), (3, 3))


GOOD = "le chat dort.\tthe cat sleeps.\t0-0 1-1 2-2 3-3"


# tatoeba_deu_sample.tsv and tatoeba_spa_sample.tsv: sentences written for these tests in manythings.org's
# 3-column layout (English, other language, attribution); the attributions' numbers and names are made up.
def test_load_tatoeba_german_and_spanish_samples():
    de = load_tatoeba(FIXTURES / "tatoeba_deu_sample.tsv", lang="de")
    assert len(de) == 14 and de[1] == ("Wie geht's?", "How are you?") and de[4] == ("Die Straße ist lang.",
                                                                                     "The street is long.")
    es = load_tatoeba(FIXTURES / "tatoeba_spa_sample.tsv", lang="es")
    assert len(es) == 13 and es[1] == ("¿Verdad?", "Really?") and es[10][0] == "Tom tiene razón, ¿verdad?"
    for pairs, lang in ((de, "de"), (es, "es")):   # each language's rules undo themselves on real sentences
        for source, _ in pairs:
            assert detokenize(tokenize(source, lang), lang) == normalize(source)


def test_load_tatoeba_stops_on_swapped_columns():
    # tatoeba_deu_swapped.tsv: tatoeba_deu_sample.tsv with its first two columns swapped (German<TAB>English)
    with pytest.raises(DataFormatError, match=r"tatoeba_deu_swapped.tsv: its columns seem swapped: this loader "
                                              r"reads 'English<TAB>German'.*Swap the first two columns"):
        load_tatoeba(FIXTURES / "tatoeba_deu_swapped.tsv", lang="de")
    for name, lang in (("tatoeba_deu_sample.tsv", "de"), ("tatoeba_spa_sample.tsv", "es"),
                       ("tatoeba_2col.tsv", "fr"), ("tatoeba_3col.tsv", "fr")):
        load_tatoeba(FIXTURES / name, lang=lang)                 # the right way round: read as before


def test_english_share_counts_sentences_with_a_common_english_word():
    assert english_share(["The cat sleeps.", "Hallo!", "Ich weiß es nicht.", "I'm hungry."]) == 0.5
    assert english_share(["¿Cómo estás?", "Je l'ai vu.", "Er will das."]) == 0.0   # no Spanish he/me, German will
    assert english_share([]) == 0.0


def test_load_tatoeba_skips_a_spanish_header_line():
    with pytest.warns(DataWarning, match=r"tatoeba_spa_header\.tsv:1: skipped 1 header line \('English\\tSpanish'\)"):
        pairs = load_tatoeba(FIXTURES / "tatoeba_spa_header.tsv", lang="es")
    assert pairs == [("¡Hola!", "Hi."), ("¿Verdad?", "Really?"), ("¿Cómo estás?", "How are you?"),
                     ("El niño está durmiendo.", "The boy is sleeping.")]


def test_load_tatoeba_errors_name_the_language(tmp_path):
    path = tmp_path / "deu.txt"
    path.write_text("Hi.\tHallo!\nHow are you?\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"deu\.txt:2: expected 'English<TAB>German'"):
        load_tatoeba(path, lang="de")
    with pytest.raises(DataFormatError, match=r"deu\.txt:2: expected 'English<TAB>other language'"):
        load_tatoeba(path)


@pytest.mark.parametrize("bad, words", [
    ("le chat dort.\tthe cat sleeps.", "3 tab-separated columns"),
    ("le chat dort.\tthe cat sleeps.\t0-0\textra", "3 tab-separated columns"),
    ("le chat dort.\tthe cat sleeps.\t0-0 9-1", "out of range"),
    ("le chat dort.\tthe cat sleeps.\t0-0 1-7", "out of range"),
    ("le chat dort.\tthe cat sleeps.\t0-0 a-1", "Pharaoh"),
    ("le chat dort.\tthe cat sleeps.\t0-0 1_1", "Pharaoh"),
])
def test_load_corpus_malformed_line_names_file_and_line(tmp_path, bad, words):
    path = tmp_path / "broken.tsv"
    path.write_text(f"{GOOD}\n\n{bad}\n{GOOD}\n", encoding="utf-8")
    with pytest.raises(DataFormatError) as info:
        load_corpus(path)
    message = str(info.value)
    assert f"{path}:3" in message  # the blank line still counts
    assert words in message
    assert isinstance(info.value, ValueError)


def test_load_corpus_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.tsv"):
        load_corpus(tmp_path / "nope.tsv")


def test_load_synthetic_split_names():
    with pytest.raises(ValueError, match="split"):
        load_synthetic_pairs("dev")
    pairs = load_synthetic_pairs("valid", FIXTURES.parent.parent / "data" / "synthetic")
    assert len(pairs) == 600


@pytest.mark.skipif(shutil.which("awk") is None, reason="the suggested command needs awk")
@pytest.mark.parametrize("columns", [2, 3])
@pytest.mark.parametrize("ending", ["\n", "\r\n"], ids=["LF", "CRLF"])
def test_the_command_the_swapped_columns_error_suggests_fixes_the_file(tmp_path, columns, ending):
    """Run as the message gives it, on LF and on CRLF files (many Tatoeba copies have Windows line
    endings): the fixed file loads, with the pairs of the file that was never swapped."""
    rows = [line.split("\t") for line in (FIXTURES / "tatoeba_deu_sample.tsv").read_text(encoding="utf-8").splitlines()]
    swapped = tmp_path / "deu.txt"
    swapped.write_bytes("".join("\t".join([r[1], r[0], *r[2:columns]]) + ending for r in rows).encode("utf-8"))
    with pytest.raises(DataFormatError, match="its columns seem swapped") as info:
        load_tatoeba(swapped, lang="de")
    command = re.search(r"\((awk .*? > FOLDER/deu\.txt)\) and point", str(info.value)).group(1)
    (tmp_path / "fixed").mkdir()
    subprocess.run(command.replace("FOLDER", shlex.quote(str(tmp_path / "fixed"))), shell=True, check=True)
    assert load_tatoeba(tmp_path / "fixed" / "deu.txt", lang="de") == load_tatoeba(
        FIXTURES / "tatoeba_deu_sample.tsv", lang="de")


@pytest.mark.parametrize("name", ["tatoeba_2col.tsv", "tatoeba_3col.tsv"])
def test_load_tatoeba_two_and_three_columns(name):
    pairs = load_tatoeba(FIXTURES / name)
    assert pairs == [("Va !", "Go."), ("Je vois.", "I see.")]  # (French, English)


@pytest.mark.parametrize("bad, words", [
    ("Go.", "found no tab (1 column): 'Go.'"), ("Go.\tVa !\tattr\tmore", "found 4 columns: 'Go.\\tVa !"),
    ("Go.\t  ", "found an empty other language column: 'Go.\\t  '"), ("\tVa !", "found an empty English column"),
    # a tab inside a sentence of a 2-column file: the third column is no attribution
    ("Good day.\tGuten\tTag.", "3 columns, but the third ('Tag.') is not a Tatoeba attribution"),
    ("Hi.\tSalut\ttoi !", "tab inside a sentence"), ("Hi.\tSalut !\t ", "not a Tatoeba attribution"),
])
def test_load_tatoeba_malformed(tmp_path, bad, words):
    path = tmp_path / "t.tsv"
    path.write_text(f"Hi.\tSalut.\n{bad}\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"t\.tsv:2: ") as info:
        load_tatoeba(path)
    assert words in str(info.value)


ATTRIBUTION = "CC-BY 2.0 (France) Attribution: tatoeba.org #2877272 (CM) & #1158250 (Wittydev)"


@pytest.mark.parametrize("attribution", [ATTRIBUTION, "CC-BY 2.0 (France) Attribution: tatoeba.org #1 (a)",
                                         "cc-by 2.0 attribution tatoeba.org"])
def test_load_tatoeba_keeps_a_real_attribution_column_out_of_the_pair(tmp_path, attribution):
    path = tmp_path / "three.tsv"
    path.write_text(f"Go.\tVa !\t{attribution}\nI see.\tJe vois.\n", encoding="utf-8")
    assert load_tatoeba(path) == [("Va !", "Go."), ("Je vois.", "I see.")]


@pytest.mark.parametrize("header", ["1\t2", "0\t1\t2", "English\tFrench", "eng\tfra\tattribution", "SRC\tTGT",
                                    "English\tGerman", "eng\tdeu", "en\tes"])
def test_load_tatoeba_skips_a_header_line_and_says_so(tmp_path, header):
    path = tmp_path / "h.tsv"
    path.write_text(f"\n{header}\nGo.\tVa !\nI see.\tJe vois.\n", encoding="utf-8")
    with pytest.warns(DataWarning, match=r"h\.tsv:2: skipped 1 header line") as record:
        pairs = load_tatoeba(path)
    assert pairs == [("Va !", "Go."), ("Je vois.", "I see.")]
    assert len(record) == 1 and record[0].filename == __file__   # points at the caller, not utils


def test_a_header_is_only_the_first_line(tmp_path):
    path = tmp_path / "h.tsv"
    path.write_text("Go.\tVa !\nenglish\tfrench\n", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        assert load_tatoeba(path) == [("Va !", "Go."), ("french", "english")]


def test_load_corpus_skips_a_header_line_too(tmp_path):
    path = tmp_path / "c.tsv"
    path.write_text(f"fr\ten\talignment\n{GOOD}\n", encoding="utf-8")
    with pytest.warns(DataWarning, match="skipped 1 header line"):
        assert len(load_corpus(path)) == 1


@pytest.mark.parametrize("ending", [b"\r", b"\r\n", b"\n"])
def test_every_line_ending_reads_line_by_line(tmp_path, ending):
    path = tmp_path / "mac.tsv"
    path.write_bytes(ending.join([b"Go.\tVa !", b"", b"Hi.\tSalut !", b""]))
    assert load_tatoeba(path) == [("Va !", "Go."), ("Salut !", "Hi.")]
    path.write_bytes(ending.join([b"Go.\tVa !", b"", b"Hi.", b""]))
    with pytest.raises(DataFormatError, match=r"mac\.tsv:3: expected"):       # line numbers count those lines
        load_tatoeba(path)


def test_cr_only_corpus_file(tmp_path):
    path = tmp_path / "mac.tsv"
    path.write_bytes(f"{GOOD}\r{GOOD}\r".encode())
    assert len(load_corpus(path)) == 2


@pytest.mark.parametrize("content", [b"", b"\n  \n\r\n", b"\xef\xbb\xbf", b"1\t2\n"])
@pytest.mark.parametrize("loader", [load_tatoeba, load_corpus])
def test_a_file_without_pairs_is_an_error_naming_it(tmp_path, content, loader):
    path = tmp_path / "empty.tsv"
    path.write_bytes(content)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        with pytest.raises(DataFormatError, match=r"empty\.tsv: no sentence pairs"):
            loader(path)


def test_an_archive_or_a_folder_is_named(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("fra.txt", "Go.\tVa !\n")
    (tmp_path / "fra-eng.zip").write_bytes(buffer.getvalue())
    with pytest.raises(DataFormatError, match=r"fra-eng\.zip is a zip archive"):
        load_tatoeba(tmp_path / "fra-eng.zip")
    with pytest.raises(IsADirectoryError, match="is a folder"):
        load_tatoeba(tmp_path)


# ----------------------------------------------------------------------------- encodings
def test_non_utf8_file_names_file_and_line(tmp_path):
    path = tmp_path / "latin1.tsv"
    path.write_bytes("Hi.\tSalut.\nI see.\tJe vois l'école.\n".encode("latin-1"))
    with pytest.raises(DataFormatError, match=r"latin1\.tsv:2"):
        load_tatoeba(path)


def test_byte_order_mark_is_ignored(tmp_path):
    path = tmp_path / "bom.tsv"
    path.write_bytes("\ufeffle chat dort.\tthe cat sleeps.\t0-0 1-1 2-2 3-3\n".encode("utf-8"))
    assert load_corpus(path)[0].src_tokens == ["le", "chat", "dort", "."]


# ----------------------------------------------------------------------------- split_by_sentence
def test_split_by_sentence_never_shares_a_sentence():
    pairs = [(f"fr {i}", f"en {i}") for i in range(200)]
    pairs += [(f"autre fr {i}", f"en {i}") for i in range(0, 200, 3)]      # English with two French
    pairs += [(f"fr {i}", f"EN {i} bis") for i in range(0, 200, 7)]        # French with two English
    pairs += [("Chaîne A.", "Chain 1."), ("Chaîne B.", "chain 1."), ("chaîne b.", "Chain 2.")]  # a chain
    train, valid, test = split_by_sentence(pairs, seed=3)
    assert sorted(train + valid + test) == sorted(pairs)
    from utils.text import normalize
    for side in (0, 1):
        seen = [{normalize(p[side]) for p in split} for split in (train, valid, test)]
        assert not (seen[0] & seen[1]) and not (seen[0] & seen[2]) and not (seen[1] & seen[2])
    chain = [k for k, split in enumerate((train, valid, test)) for p in split if p[0].lower().startswith("chaîne")]
    assert len(chain) == 3 and len(set(chain)) == 1                         # linked through a chain: together
    assert 0.7 < len(train) / len(pairs) < 0.9 and len(valid) > 0 and len(test) > 0


def test_split_by_sentence_is_seeded_and_keeps_order_inside_splits():
    pairs = [(f"fr {i}", f"en {i}") for i in range(100)]
    assert split_by_sentence(pairs, seed=1) == split_by_sentence(pairs, seed=1)
    assert split_by_sentence(pairs, seed=1) != split_by_sentence(pairs, seed=2)
    train, _, _ = split_by_sentence(pairs, (1.0, 0.0, 0.0))
    assert train == pairs


def test_split_by_sentence_needs_pairs():
    with pytest.raises(ValueError, match="no pairs"):
        split_by_sentence([])


@pytest.mark.parametrize("fractions", [(0.5, 0.5), (0.8, 0.3, 0.1), (1.2, -0.1, -0.1)])
def test_split_by_sentence_rejects_bad_fractions(fractions):
    with pytest.raises(ValueError, match="fractions"):
        split_by_sentence([("a", "b")], fractions)
