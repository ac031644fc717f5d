"""The synthetic corpus: determinism, the committed files, alignment validity, grammar."""
import subprocess
import sys
from pathlib import Path

import pytest

from utils import corpus
from utils.corpus import (
    ADJ_AFTER,
    ADJ_BEFORE,
    INTRANSITIVE,
    KIN,
    LENGTH_BUCKETS,
    NOUNS,
    TRANSITIVE,
    from_pharaoh,
    generate_splits,
    to_pharaoh,
    write_split,
)
from utils.pairs import SentencePair

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "data" / "synthetic"

NOUN_SG = {n[0]: n for n in NOUNS}
NOUN_PL = {n[1]: n for n in NOUNS}
VERB_SG = {v[0]: v for v in INTRANSITIVE + TRANSITIVE}
VERB_PL = {v[1]: v for v in INTRANSITIVE + TRANSITIVE}
ADJ_FORMS = {form: row for row in ADJ_BEFORE + ADJ_AFTER for form in row[:4]}
CONTENT = set(NOUN_SG) | set(NOUN_PL) | set(VERB_SG) | set(VERB_PL) | set(ADJ_FORMS) | {k[0] for k in KIN}


@pytest.fixture(scope="module")
def default_splits():
    """The full default corpus, generated once (about 10 s)."""
    return generate_splits()


@pytest.fixture(scope="module")
def small_splits():
    return generate_splits(seed=3, n_train=40, n_valid=12, n_test_per_bucket=4)


def crosses(links):
    return any(s1 < s2 and t1 > t2 for s1, t1 in links for s2, t2 in links)


# ----------------------------------------------------------------------------- determinism
def test_generate_splits_is_deterministic_for_a_seed(small_splits):
    again = generate_splits(seed=3, n_train=40, n_valid=12, n_test_per_bucket=4)
    assert again == small_splits
    other = generate_splits(seed=4, n_train=40, n_valid=12, n_test_per_bucket=4)
    assert other["train"] != small_splits["train"]


def test_split_sizes_and_no_repeated_french(small_splits):
    assert len(small_splits["train"]) == 40
    assert len(small_splits["valid"]) == 12
    assert len(small_splits["test"]) == 4 * len(LENGTH_BUCKETS)
    french = [p.fr for split in small_splits.values() for p in split]
    assert len(set(french)) == len(french)


def test_committed_files_equal_a_fresh_regeneration(default_splits, tmp_path):
    for name, pairs in default_splits.items():
        write_split(pairs, tmp_path / f"{name}.tsv")
        fresh = (tmp_path / f"{name}.tsv").read_bytes()
        committed = (COMMITTED / f"{name}.tsv").read_bytes()
        assert fresh == committed, (f"data/synthetic/{name}.tsv differs from `python -m utils.corpus`; "
                                    "regenerate it")


# ----------------------------------------------------------------------------- alignments
def test_alignment_indices_in_range_and_tokens_round_trip(default_splits):
    for split in default_splits.values():
        for p in split:
            n_src, n_tgt = len(p.src_tokens), len(p.tgt_tokens)
            assert p.alignment, p
            assert all(0 <= s < n_src and 0 <= t < n_tgt for s, t in p.alignment), p
            assert len(set(p.alignment)) == len(p.alignment)


def test_content_words_are_aligned(default_splits):
    checked = 0
    for p in default_splits["test"] + default_splits["valid"]:
        linked = {s for s, _ in p.alignment}
        for i, tok in enumerate(p.src_tokens):
            if tok in CONTENT:
                assert i in linked, (tok, p)
                checked += 1
    assert checked > 5000


def test_every_english_token_is_aligned(default_splits):
    for p in default_splits["test"]:
        assert {t for _, t in p.alignment} == set(range(len(p.tgt_tokens))), p


def test_crossing_alignments_are_common(default_splits):
    pairs = default_splits["test"]
    share = sum(crosses(p.alignment) for p in pairs) / len(pairs)
    assert share > 0.5, share
    # both sources of reordering occur: adjective after the noun, and the possessive "de"
    assert any("'s" in p.tgt_tokens for p in pairs)
    adj_after = {form for row in ADJ_AFTER for form in row[:4]}
    assert any(tok in adj_after for p in pairs for tok in p.src_tokens)


def test_crossing_helper_can_fail():
    assert crosses([(0, 1), (1, 0)]) and not crosses([(0, 0), (1, 1)])


def test_adjective_after_noun_is_a_crossing():
    p = SentencePair.tokenized("la maison bleue dort.", "the blue house sleeps.",
                               alignment=((0, 0), (1, 2), (2, 1), (3, 3), (4, 4)))
    assert crosses(p.alignment)


def test_test_split_is_stratified_by_length(default_splits):
    lengths = [len(p.src_tokens) for p in default_splits["test"]]
    for lo, hi in LENGTH_BUCKETS:
        assert sum(lo <= n <= hi for n in lengths) == 100, (lo, hi)
    assert sum(n >= 50 for n in lengths) >= 100
    assert max(lengths) <= LENGTH_BUCKETS[-1][1] and min(lengths) >= LENGTH_BUCKETS[0][0]


def test_train_covers_every_bucket(default_splits):
    lengths = [len(p.src_tokens) for p in default_splits["train"]]
    for lo, hi in LENGTH_BUCKETS:
        assert sum(lo <= n <= hi for n in lengths) > 1000


# ----------------------------------------------------------------------------- agreement
def _links_by_source(p):
    out = {}
    for s, t in sorted(p.alignment, key=lambda st: st[1]):
        out.setdefault(s, []).append(p.tgt_tokens[t])
    return out


def test_nouns_translate_with_the_right_number(default_splits):
    n = 0
    for p in default_splits["test"]:
        links = _links_by_source(p)
        for i, tok in enumerate(p.src_tokens):
            if tok in NOUN_SG:
                assert links[i] == [NOUN_SG[tok][3]], (tok, links[i], p)
            elif tok in NOUN_PL:
                assert links[i] == [NOUN_PL[tok][4]], (tok, links[i], p)
            else:
                continue
            n += 1
    assert n > 1000


def test_verbs_agree_in_english(default_splits):
    n = 0
    for p in default_splits["test"]:
        links = _links_by_source(p)
        for i, tok in enumerate(p.src_tokens):
            if tok in VERB_SG:
                _, _, en3sg, base = VERB_SG[tok]
                assert links[i] in (list(en3sg), ["does", *base]), (tok, links[i], p)
            elif tok in VERB_PL:
                _, _, _, base = VERB_PL[tok]
                assert links[i] in (list(base), ["do", *base]), (tok, links[i], p)
            else:
                continue
            n += 1
    assert n > 500


def test_determiners_and_adjectives_agree_with_their_noun(default_splits):
    index = {("m", "sg"): 0, ("f", "sg"): 1, ("m", "pl"): 2, ("f", "pl"): 3}
    n_det = n_adj = 0
    for p in default_splits["test"]:
        toks = p.src_tokens
        for i, tok in enumerate(toks):
            noun = NOUN_SG.get(tok) or NOUN_PL.get(tok)
            if noun is None:
                continue
            gender, number = noun[2], "sg" if tok in NOUN_SG else "pl"
            prev = toks[i - 1] if i else None
            if prev in ("le", "un"):
                assert (gender, number) == ("m", "sg"), (prev, tok, p)
                n_det += 1
            elif prev in ("la", "une"):
                assert (gender, number) == ("f", "sg"), (prev, tok, p)
                n_det += 1
            elif prev in ("les", "mes", "nos", "tes"):
                assert number == "pl", (prev, tok, p)
                n_det += 1
            nxt = toks[i + 1] if i + 1 < len(toks) else None
            if nxt in ADJ_FORMS and ADJ_FORMS[nxt] in ADJ_AFTER:
                assert ADJ_FORMS[nxt][index[(gender, number)]] == nxt, (tok, nxt, p)
                n_adj += 1
    assert n_det > 500 and n_adj > 100


def test_elision_and_contraction_in_the_french():
    pairs = generate_splits(seed=0, n_train=300, n_valid=0, n_test_per_bucket=0)["train"]
    text = " ".join(p.fr for p in pairs)
    assert "l'" in text and (" du " in text or " des " in text)
    for p in pairs:
        toks = p.src_tokens
        for a, b in zip(toks, toks[1:], strict=False):
            assert not (a in ("le", "la") and b[0] in "aeiouéh"), p.fr  # l'homme, not le homme
            assert (a, b) not in {("de", "le"), ("à", "le"), ("à", "les")}, p.fr


# ----------------------------------------------------------------------------- Pharaoh format
@pytest.mark.parametrize("links", [((0, 0), (1, 2), (2, 1)), (), ((12, 3),)])
def test_pharaoh_round_trip(links):
    assert from_pharaoh(to_pharaoh(links)) == links


def test_pharaoh_format():
    assert to_pharaoh([(0, 0), (1, 2)]) == "0-0 1-2"
    assert from_pharaoh(" 0-0  3-5 ") == ((0, 0), (3, 5))


@pytest.mark.parametrize("bad", ["0-", "a-1", "1:2", "-1-2", "0-0 1"])
def test_from_pharaoh_rejects_garbage(bad):
    with pytest.raises(ValueError, match="Pharaoh"):
        from_pharaoh(bad)


def test_write_split_format(small_splits, tmp_path):
    path = tmp_path / "sub" / "x.tsv"
    write_split(small_splits["valid"], path)
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "" and len(lines) == 13
    first = small_splits["valid"][0]
    assert lines[0] == f"{first.fr}\t{first.en}\t{to_pharaoh(first.alignment)}"


# ----------------------------------------------------------------------------- command line
def test_main_writes_the_three_splits(tmp_path, monkeypatch, capsys):
    small = generate_splits(seed=7, n_train=5, n_valid=3, n_test_per_bucket=1)
    calls = []

    def fake(seed=0):
        calls.append(seed)
        return small

    monkeypatch.setattr(corpus, "generate_splits", fake)
    corpus.main(["--out", str(tmp_path), "--seed", "7"])
    assert calls == [7]
    for name, pairs in small.items():
        lines = (tmp_path / f"{name}.tsv").read_text(encoding="utf-8").splitlines()
        assert len(lines) == len(pairs)
    assert "wrote" in capsys.readouterr().out


def test_module_help_runs():
    result = subprocess.run([sys.executable, "-m", "utils.corpus", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "--out" in result.stdout and "--seed" in result.stdout


def test_possessive_before_a_vowel_uses_the_masculine_form(default_splits):
    bad = [p.fr for split in default_splits.values() for p in split
           for a, b in zip(p.src_tokens, p.src_tokens[1:], strict=False)
           if a in ("ma", "ta", "sa") and b[0] in "aeiouéèêh"]
    assert bad == [], bad[:3]
