"""BLEU against values worked out by hand, exact match, scores by length, attention links and AER."""
import math

import pytest
import sacrebleu
import torch

from utils.metrics import (
    alignment_error_rate,
    anchor_offsets,
    attention_entropy,
    attention_links,
    attention_peaks,
    bucket_label,
    by_length,
    chrf_signature,
    corpus_bleu,
    crossing_links,
    diagonal_links,
    exact_match,
    link_recall,
    look_ahead_misses,
    misaligned_targets,
    multi_reference_bleu,
    multi_reference_chrf,
    sentence_bleu,
)

# BLEU by hand (Papineni et al., 2002, as sacrebleu computes it over the whole corpus):
#   100 · BP · (p1 · p2 · p3 · p4)^(1/4),  p_n = matched n-grams / hypothesis n-grams, summed over
#   the sentences (an n-gram is matched at most as often as its reference has it);
#   BP = exp(1 - r / c) when the hypotheses (c words in all) are shorter than the references (r), else 1.
CASES = {  # name: (hypotheses, references, BLEU worked out by hand)
    "corpus": ([["the", "cat", "sleeps", "on", "the", "mat", "."], ["a", "dog", "runs", "."]],
               [["the", "cat", "sleeps", "on", "a", "mat", "."], ["the", "dog", "runs", "fast", "."]],
               # 1-grams (6 + 3)/(7 + 4): the second "the" has no partner; 2-grams (4 + 1)/(6 + 3);
               # 3-grams (2 + 0)/(5 + 2); 4-grams (1 + 0)/(4 + 1); 11 words against 12
               100 * math.exp(1 - 12 / 11) * (9 / 11 * 5 / 9 * 2 / 7 * 1 / 5) ** 0.25),        # 36.66
    "short hypothesis (brevity penalty)": (
        [["the", "small", "blue", "house", "."]], [["the", "small", "blue", "house", "is", "here", "today", "."]],
        # 1-grams 5/5; 2-grams 3/4 ("house ." is not in the reference); 3-grams 2/3; 4-grams 1/2
        100 * math.exp(1 - 8 / 5) * (5 / 5 * 3 / 4 * 2 / 3 * 1 / 2) ** 0.25),                # 38.81
    "tokens with apostrophes": (
        [["my", "sister", "'s", "cat", "does", "n't", "run", "."]],
        [["my", "sister", "'s", "cat", "does", "not", "run", "."]],
        # the same length (BP = 1); 1-grams 7/8, 2-grams 5/7, 3-grams 3/6, 4-grams 2/5
        100 * (7 / 8 * 5 / 7 * 3 / 6 * 2 / 5) ** 0.25),                                      # 59.46
}


@pytest.mark.parametrize("name", list(CASES))
def test_corpus_bleu_by_hand(name):
    hyps, refs, expected = CASES[name]
    assert corpus_bleu(hyps, refs) == pytest.approx(expected, abs=1e-9)


def test_corpus_bleu_is_not_the_mean_of_sentence_scores():
    hyps, refs, _ = CASES["corpus"]
    mean = (corpus_bleu(hyps[:1], refs[:1]) + corpus_bleu(hyps[1:], refs[1:])) / 2
    assert abs(corpus_bleu(hyps, refs) - mean) > 1


def test_corpus_bleu_extremes():
    ref = [["the", "small", "blue", "house", "is", "here", "."], ["my", "sister", "'s", "cat", "runs", "."]]
    assert corpus_bleu(ref, ref) == pytest.approx(100.0)
    assert corpus_bleu([["x", "y", "z", "w"]] * 2, ref) == 0.0
    assert isinstance(corpus_bleu(ref, ref), float)


def test_corpus_bleu_uses_our_tokens_not_sacrebleus():
    # "'s" and "s" are different tokens: 1-grams 4/5, 2-grams 2/4, 3-grams 1/3, 4-grams 0/2. With no
    # 4-gram matched, sacrebleu's default ("exp") smoothing counts p4 as 1 / (2 · 2) instead of 0.
    hyps, refs = [["sister", "'s", "cat", "runs", "."]], [["sister", "s", "cat", "runs", "."]]
    assert corpus_bleu(hyps, refs) == pytest.approx(100 * (4 / 5 * 2 / 4 * 1 / 3 * 1 / 4) ** 0.25, abs=1e-9)


def test_corpus_bleu_errors():
    with pytest.raises(ValueError):
        corpus_bleu([["a"]], [])
    with pytest.raises(ValueError):
        corpus_bleu([], [])


def test_exact_match():
    assert exact_match([["a", "b"], ["c"]], [["a", "b"], ["d"]]) == 0.5
    assert exact_match([("a", "b")], [["a", "b"]]) == 1.0
    assert exact_match([["a"]], [["a", "b"]]) == 0.0
    with pytest.raises(ValueError):
        exact_match([], [])
    with pytest.raises(ValueError):
        exact_match([["a"]], [["a"], ["b"]])


def test_bucket_label():
    assert bucket_label((4, 10)) == "4–10"  # an en dash


def test_by_length_inclusive_edges_and_empty_buckets():
    lengths = [4, 10, 11, 20, 45]
    hyps = [["a"], ["b"], ["c"], ["x"], ["e"]]
    refs = [["a"], ["b"], ["c"], ["d"], ["e"]]
    buckets = [(4, 10), (11, 20), (21, 30), (41, 50)]
    scores = by_length(lengths, hyps, refs, buckets, metric=exact_match)
    assert list(scores) == ["4–10", "11–20", "41–50"]  # bucket order, the empty one left out
    assert scores == {"4–10": 1.0, "11–20": 0.5, "41–50": 1.0}


def test_by_length_custom_metric_sees_the_right_sentences():
    seen = []

    def metric(h, r):
        seen.append((h, r))
        return float(len(h))

    scores = by_length([3, 5, 5, 9], [["h0"], ["h1"], ["h2"], ["h3"]], [["r0"], ["r1"], ["r2"], ["r3"]],
                       [(1, 4), (5, 5), (10, 12)], metric)
    assert scores == {"1–4": 1.0, "5–5": 2.0}
    assert seen[1] == ([["h1"], ["h2"]], [["r1"], ["r2"]])


def test_by_length_default_metric_is_bleu():
    hyps, refs, _ = CASES["corpus"]
    scores = by_length([7, 4], hyps, refs, [(1, 100)])
    assert scores["1–100"] == pytest.approx(corpus_bleu(hyps, refs))


def test_attention_links_argmax():
    # rows: 3 target words + <eos>; columns: 3 source words + <eos>
    w = torch.tensor([[0.7, 0.1, 0.1, 0.1],
                      [0.1, 0.1, 0.6, 0.2],
                      [0.1, 0.2, 0.1, 0.6],   # argmax is the source <eos>: no link
                      [0.0, 0.0, 0.9, 0.1]])  # the target <eos> row is ignored
    assert attention_links(w, n_src=3, n_tgt=3) == {(0, 0), (2, 1)}
    assert attention_links(w, n_src=4, n_tgt=4) == {(0, 0), (2, 1), (3, 2), (2, 3)}


def test_alignment_error_rate_hand_cases():
    gold = [{(0, 0), (1, 2), (2, 1)}]
    assert alignment_error_rate(gold, gold) == 0.0
    assert alignment_error_rate([{(0, 1), (1, 0)}], gold) == 1.0
    # A = {(0,0), (1,1)}, G = {(0,0), (1,2), (2,1)}: |A∩G| = 1 → 1 - 2/5
    assert alignment_error_rate([{(0, 0), (1, 1)}], gold) == pytest.approx(0.6)


def test_alignment_error_rate_sums_over_the_corpus():
    predicted = [[(0, 0)], [(0, 0), (1, 1), (2, 2)]]
    gold = [[(0, 0), (1, 1)], [(0, 0), (1, 2)]]
    # hits = 1 + 1, |A| = 1 + 3, |G| = 2 + 2 → 1 - 4/8 (not the mean of per-sentence AERs)
    assert alignment_error_rate(predicted, gold) == pytest.approx(0.5)
    assert alignment_error_rate([[(0, 0), (0, 0)]], [[(0, 0)]]) == 0.0  # duplicates count once


def test_alignment_error_rate_errors():
    with pytest.raises(ValueError):
        alignment_error_rate([set()], [set(), set()])
    with pytest.raises(ValueError, match="empty"):
        alignment_error_rate([set()], [set()])


def test_corpus_bleu_does_not_retokenize():
    # sacrebleu's default 13a tokenizer would split "a-b" and "c.d" and find matches; ours must not
    hyps, refs = [["a-b", "c.d", "e"]], [["a", "-", "b", "c", ".", "d", "e"]]
    assert sacrebleu.corpus_bleu(["a-b c.d e"], [["a - b c . d e"]]).score > 10
    assert corpus_bleu(hyps, refs) == pytest.approx(0.0)


# ----------------------------------------------------------------------------- alignment helpers
def test_crossing_links():
    # une voiture rouge → a red car: voiture(1)→car(2) and rouge(2)→red(1) cross; une(0)→a(0) does not
    assert crossing_links([(0, 0), (1, 2), (2, 1)]) == {(1, 2), (2, 1)}
    assert crossing_links([(0, 0), (1, 1), (2, 2)]) == set()
    assert crossing_links([]) == set()


def test_link_recall():
    gold = [{(0, 0), (1, 2), (2, 1)}, {(0, 0)}]
    assert link_recall([{(0, 0), (1, 1), (2, 1)}, {(0, 0)}], gold) == 3 / 4
    with pytest.raises(ValueError, match="gold"):
        link_recall([set()], [set()])
    with pytest.raises(ValueError, match="predicted"):
        link_recall([set()], gold)


def test_attention_entropy():
    one_hot = torch.tensor([[0.0, 1.0, 0.0, 0.0]])
    uniform = torch.full((1, 4), 0.25)
    torch.testing.assert_close(attention_entropy(one_hot), torch.tensor([0.0]))
    torch.testing.assert_close(attention_entropy(uniform), torch.tensor([math.log(4)]))


def test_diagonal_links():
    assert diagonal_links(3, 3) == {(0, 0), (1, 1), (2, 2)}
    assert diagonal_links(5, 3) == {(0, 0), (2, 1), (4, 2)}
    assert diagonal_links(4, 1) == {(0, 0)}


def test_misaligned_targets():
    gold = {(0, 0), (1, 2), (2, 1), (3, 1)}            # target 1 has two gold sources
    assert misaligned_targets({(0, 0), (3, 1), (2, 2)}, gold) == [2]
    assert misaligned_targets({(0, 0)}, gold) == [1, 2]  # no predicted link is a miss too
    assert misaligned_targets(set(), set()) == []


def test_look_ahead_misses():
    # "does not run" ← "ne court pas": gold does→court(1), not→ne(0), not→pas(2), run→court(1)
    gold = {(1, 0), (0, 1), (2, 1), (1, 2)}
    assert look_ahead_misses({(0, 0), (0, 1), (1, 2)}, gold) == [0]    # does reads ne, the next word's source
    assert look_ahead_misses({(1, 0), (1, 1), (1, 2)}, gold) == [1]    # not reads court: run's source
    assert look_ahead_misses({(1, 0), (0, 1), (1, 2)}, gold) == []     # all aligned
    # does reads pas (not's); run, the last word, misses, but has no next word to look ahead to
    assert look_ahead_misses({(2, 0), (2, 1), (0, 2)}, gold) == [0]


# ----------------------------------------------------------------------------- several references
def test_multi_reference_bleu_with_one_reference_equals_corpus_bleu():
    for hyps, refs, _ in CASES.values():
        assert multi_reference_bleu(hyps, [[r] for r in refs]) == pytest.approx(corpus_bleu(hyps, refs))


def test_multi_reference_bleu_credits_any_reference():
    hyps = [["i", "'m", "busy", "."], ["run", "!"], ["he", "is", "very", "tall", "."]]
    first = [["i", "am", "busy", "."], ["run", "."], ["he", "is", "very", "tall", "."]]
    second = [["i", "'m", "busy", "."], ["hurry", "!"]]            # the third sentence has one reference
    both = [[a, b] for a, b in zip(first[:2], second, strict=True)] + [[first[2]]]
    assert multi_reference_bleu(hyps, both) > multi_reference_bleu(hyps, [[r] for r in first])
    # every hypothesis word is in one of its references: 1-grams 11/11; 2-grams 7/8 ("run !" is in
    # neither); 3-grams 5/5, 4-grams 3/3; lengths 4 + 2 + 5 equal the closest references': BP = 1
    assert multi_reference_bleu(hyps, both) == pytest.approx(100 * (7 / 8) ** 0.25, abs=1e-9)   # 96.72
    assert multi_reference_bleu(hyps, [[h, ["x"]] for h in hyps]) == pytest.approx(100.0)


def test_multi_reference_bleu_errors():
    with pytest.raises(ValueError, match="reference lists"):
        multi_reference_bleu([["a"]], [])
    with pytest.raises(ValueError, match="at least one sentence"):
        multi_reference_bleu([], [])
    with pytest.raises(ValueError, match="at least one reference"):
        multi_reference_bleu([["a"], ["b"]], [[["a"]], []])


def test_multi_reference_chrf_by_hand():
    # "ab" against "ac": character 1-grams a, b vs a, c: precision = recall = 1/2, F = 1/2; 2-grams ab vs ac:
    # none matched, F = 0; no 3- to 6-grams on either side (sacrebleu's effective order): (1/2 + 0) / 2 = 25
    assert multi_reference_chrf([["ab"]], [[["ac"]]]) == pytest.approx(25.0)
    assert multi_reference_chrf([["a", "b"]], [[["ac"]]]) == pytest.approx(25.0)        # spaces are ignored
    # each sentence is scored against its best reference: "ab" is one of them, so 100
    assert multi_reference_chrf([["ab"]], [[["ac"], ["ab"]]]) == pytest.approx(100.0)
    hyps = [["i", "'m", "busy", "."], ["run", "!"]]
    first, second = [["i", "am", "busy", "."], ["run", "."]], [["i", "'m", "busy", "."], ["hurry", "!"]]
    both = [[a, b] for a, b in zip(first, second, strict=True)]
    assert multi_reference_chrf(hyps, both) > max(multi_reference_chrf(hyps, [[r] for r in refs])
                                                  for refs in (first, second))


def test_multi_reference_chrf_errors_and_signature():
    with pytest.raises(ValueError, match="reference lists"):
        multi_reference_chrf([["a"]], [])
    with pytest.raises(ValueError, match="multi_reference_chrf needs at least one sentence"):
        multi_reference_chrf([], [])
    with pytest.raises(ValueError, match="at least one reference"):
        multi_reference_chrf([["a"], ["b"]], [[["a"]], []])
    assert chrf_signature().startswith("nrefs:var|case:mixed|eff:yes|nc:6|nw:0|space:no|version:")


def test_sentence_bleu():
    assert sentence_bleu(["i", "see", "."], [["you", "run", "!"], ["i", "see", "."]]) == pytest.approx(100.0)
    short = sentence_bleu(["i", "see"], [["i", "see", "it", "."]])
    assert 0 < short < 100                                   # smoothed: no 4-gram, still not 0
    assert sentence_bleu(["x", "y"], [["i", "see", "."]]) < short
    with pytest.raises(ValueError):
        sentence_bleu(["a"], [])


def test_anchor_offsets():
    src, tgt = ["du", "vin", "rouge", "."], ["red", "wine", "."]
    weights = torch.tensor([[0.1, 0.1, 0.7, 0.1, 0.0],     # red  → rouge (offset 0)
                            [0.8, 0.1, 0.1, 0.0, 0.0],     # wine → du    (offset -1 from vin)
                            [0.0, 0.0, 0.0, 0.2, 0.8]])    # .    → <eos>
    lexicon = {"rouge": "red", "vin": "wine", "chat": "cat", ".": "."}
    assert anchor_offsets(weights, src, tgt, lexicon) == [0, -1, 1]
    # a word that occurs twice on a side is ambiguous: skipped
    assert anchor_offsets(weights, src + ["rouge"], tgt, {"rouge": "red"}) == []
    assert anchor_offsets(weights, src, tgt, {}) == []


def test_attention_peaks_counts_eos_punctuation_and_anchors():
    src, tgt = ["marie", "dort", "."], ["mary", "sleeps", "."]
    # rows: mary → marie, sleeps → <eos>, . → <eos>, <eos> row; columns: 3 words + <eos>
    w = torch.tensor([[0.9, 0.1, 0.0, 0.0], [0.1, 0.1, 0.1, 0.7], [0.0, 0.0, 0.2, 0.8], [0.0, 0.0, 0.0, 1.0]])
    peaks = attention_peaks([w, w], [src, src], [tgt, tgt], {"names": {"marie": "mary"}, "nouns": {"chat": "cat"}})
    assert (peaks.words, peaks.on_eos, peaks.punctuation_on_eos) == (6, 4, 2)
    assert peaks.eos_share == pytest.approx(4 / 6)
    assert peaks.offsets == {"names": [0, 0], "nouns": []}
    assert peaks.on_word("names") == 1.0 and peaks.on_word("nouns") == 0.0
    # the end: "." and <eos>; of the words that are not punctuation (mary, sleeps), sleeps peaks there
    assert (peaks.content_words, peaks.content_on_end) == (4, 2)
    assert peaks.end_share == pytest.approx(0.5)


def test_end_share_sees_a_collapse_onto_the_final_full_stop_that_eos_share_misses():
    from utils.metrics import source_end
    src, tgt = ["il", "pleut", "."], ["it", "'s", "raining", "."]
    w = torch.zeros(5, 4)                                # rows: 4 words + <eos>; columns: 3 words + <eos>
    w[:4, 2] = 1                                         # every English word reads the final "."
    w[4, 3] = 1
    peaks = attention_peaks([w], [src], [tgt], {})
    assert peaks.eos_share == 0.0                        # nothing peaks on <eos> ...
    assert peaks.end_share == 1.0                        # ... yet it, 's and raining all sit on the end
    assert peaks.content_words == 3                      # the English "." is not counted
    w[:3, 2], w[0, 0], w[1, 1], w[2, 1] = 0, 1, 1, 1     # it → il, 's → pleut, raining → pleut: no collapse
    assert attention_peaks([w], [src], [tgt], {}).end_share == 0.0
    assert source_end(["dis", ":", "«", "bonjour", "»", "."]) == 4   # the final run of punctuation: » and .
    assert source_end(["cours"]) == 1                    # no final punctuation: <eos> alone
    assert source_end(["?!"]) == 0


def test_eos_row_on_under_read_by_hand():
    from utils.metrics import eos_row_on_under_read
    # 2 words and <eos> (rows) over 2 source tokens and <eos> (columns): the even share is 3 / 3 = 1
    w = torch.tensor([[1.0, 0.0, 0.0],               # the word rows read position 0 twice,
                      [1.0, 0.0, 0.0],               # positions 1 and <eos> not at all: both under-read
                      [0.0, 0.8, 0.2]])              # the <eos> row peaks on position 1: under-read
    assert eos_row_on_under_read([w]) == (1.0, pytest.approx(2 / 3))
    w[2] = torch.tensor([0.8, 0.1, 0.1])             # now on position 0, which the words over-read
    assert eos_row_on_under_read([w]) == (0.0, pytest.approx(2 / 3))
    even = torch.tensor([[0.6, 0.2, 0.2], [0.2, 0.6, 0.2], [0.2, 0.2, 0.6]])   # word rows: 0.8, 0.8, 0.4
    assert eos_row_on_under_read([even]) == (1.0, pytest.approx(1.0))
    with pytest.raises(ValueError, match="no attention maps"):
        eos_row_on_under_read([])


def test_weight_by_offset_by_hand():
    from utils.metrics import weight_by_offset
    previous = torch.tensor([[1.0, 0, 0], [1, 0, 0], [0, 1, 0]])        # each word looks one back (the first at itself)
    spread = torch.full((3, 3), 1 / 3)
    weights = torch.stack([previous, spread])[None]                      # [B=1, heads=2, 3, 3]
    shares = weight_by_offset(weights, torch.ones(1, 3, dtype=torch.bool), offsets=(-1, 0, 1))
    torch.testing.assert_close(shares, torch.tensor([[2 / 3, 1 / 3, 0], [2 / 9, 1 / 3, 2 / 9]]))


def test_weight_by_offset_ignores_padded_queries():
    from utils.metrics import weight_by_offset
    weights = torch.eye(3).expand(2, 3, 3).clone()                       # two sentences: each word on itself
    weights[1, 2] = torch.tensor([1.0, 0, 0])                            # a padded query looking elsewhere
    mask = torch.tensor([[True, True, True], [True, True, False]])
    torch.testing.assert_close(weight_by_offset(weights, mask, offsets=(0,)), torch.tensor([1.0]))


# Each function that walks lists side by side (zip(..., strict=True), ruff's B905), with one list a sentence short.
ONE_SHORT = {
    "corpus_bleu": lambda: corpus_bleu([["a"]], [["a"], ["b"]]),
    "multi_reference_bleu": lambda: multi_reference_bleu([["a"]], [[["a"]], [["b"]]]),
    "exact_match": lambda: exact_match([["a"]], [["a"], ["b"]]),
    "by_length": lambda: by_length([3, 4], [["a"]], [["a"], ["b"]], [(1, 5)]),
    "alignment_error_rate": lambda: alignment_error_rate([{(0, 0)}], [{(0, 0)}, {(1, 1)}]),
    "link_recall": lambda: link_recall([{(0, 0)}], [{(0, 0)}, {(1, 1)}]),
    "attention_peaks": lambda: attention_peaks([torch.rand(3, 3)] * 2, [["a", "b"]] * 3, [["x", "y"]] * 3, {}),
}


@pytest.mark.parametrize("name", list(ONE_SHORT))
def test_lists_of_different_lengths_are_refused_with_their_lengths(name):
    """Never a silent truncation (zip without strict) nor a bare 'zip() argument 2 is longer'."""
    with pytest.raises(ValueError) as info:
        ONE_SHORT[name]()
    message = str(info.value)
    assert "zip()" not in message and any(n in message for n in ("1 ", "2 ", "3 ", "same")), message


def test_even_spread_by_hand():
    from utils.metrics import even_spread, weight_by_offset
    mask = torch.tensor([[True, True, True], [True, True, False]])
    full, causal = even_spread(mask), even_spread(mask, causal=True)
    torch.testing.assert_close(full[0], torch.full((3, 3), 1 / 3))
    torch.testing.assert_close(full[1], torch.tensor([[0.5, 0.5, 0], [0.5, 0.5, 0], [0, 0, 0]]))   # no padded key
    torch.testing.assert_close(causal[0], torch.tensor([[1.0, 0, 0], [0.5, 0.5, 0], [1 / 3, 1 / 3, 1 / 3]]))
    torch.testing.assert_close(causal[1], torch.tensor([[1.0, 0, 0], [0.5, 0.5, 0], [0, 0, 0]]))
    # the baseline weight_by_offset reads: word itself + the one before, over the 5 real queries
    shares = weight_by_offset(causal, mask, offsets=(-1, 0))
    torch.testing.assert_close(shares.sum(), torch.tensor((1 + 1 + 2 / 3 + 1 + 1) / 5))
