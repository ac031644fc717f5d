"""utils.real_data: the one real-data pipeline of notebooks 06 and 08 and scripts/real_data_recipes.py."""
import ast
import json
import sys
from pathlib import Path

import pytest
import torch

from utils.build import config_from_dict
from utils.models import RNNConfig
from utils.pairs import SentencePair
from utils.real_data import (
    BATCH_SIZE,
    MAX_TOKENS,
    MIN_FREQ,
    N_PAIRS,
    RECIPES,
    SPLIT,
    SPLIT_SEED,
    SUBWORDS,
    anchor_statistics,
    grouped_references,
    is_short,
    recipe_runs,
    select_pairs,
    settings_of,
    shortest,
)
from utils.transformer import TransformerConfig

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_06 = ROOT / "notebooks" / "06_real_french_english.ipynb"
NOTEBOOK_08 = ROOT / "notebooks" / "08_transformer_real_sentences.ipynb"


def assignments(notebook: Path) -> dict:
    """Every ``NAME = <literal, RNNConfig(...), TransformerConfig(...) or dict(...)>`` in the notebook's code
    cells, evaluated (``device`` stands for itself: it is not a training setting)."""
    names = {"RNNConfig": RNNConfig, "TransformerConfig": TransformerConfig, "dict": dict, "device": "device"}
    found = {}
    for cell in json.loads(notebook.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        for node in ast.parse(source).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                try:
                    found[node.targets[0].id] = eval(compile(ast.Expression(node.value), "cell", "eval"), names)
                except Exception:
                    continue
    return found


def recipe_settings(recipe) -> dict:
    """What ``train_or_load`` is given for a recipe of :data:`RECIPES`, as a notebook writes it."""
    return {**recipe.training(), "validate": True}


def without_device(settings: dict) -> dict:
    return {k: v for k, v in settings.items() if k != "device"}


def test_notebook_06_uses_the_modules_settings():
    found = assignments(NOTEBOOK_06)
    assert (found["MAX_TOKENS"], found["N_PAIRS"], found["SUBWORDS"]) == (MAX_TOKENS, N_PAIRS, SUBWORDS)
    assert found["CONFIG"] == RECIPES["rnn"].config
    assert without_device(found["RECIPE"]) == recipe_settings(RECIPES["rnn"])
    text = NOTEBOOK_06.read_text()
    assert f"split_by_sentence(pairs, {SPLIT}, seed={SPLIT_SEED})" in text
    assert f"min_freq={MIN_FREQ}, batch_size={BATCH_SIZE}" in text


def test_notebook_08_uses_the_modules_settings():
    found = assignments(NOTEBOOK_08)
    for config, recipe, name in [("RNN", "RNN_RECIPE", "rnn"), ("VANILLA", "VANILLA_RECIPE", "vanilla"),
                                 ("TRANSFORMER", "TRANSFORMER_RECIPE", "transformer")]:
        assert found[config] == RECIPES[name].config, name
        assert without_device(found[recipe]) == recipe_settings(RECIPES[name]), name


def test_the_scripts_defaults_are_the_recipes():
    sys.path.insert(0, str(ROOT / "scripts"))
    import real_data_recipes as script

    for model in RECIPES:
        flags = {**script.RNN_FLAGS, **script.TRANSFORMER_FLAGS, **script.TRAINING_FLAGS}
        args = script.argparse.Namespace(model=model, **{a: None for a in flags})
        assert script.recipe_from(args) == RECIPES[model]
    args = script.argparse.Namespace(model="transformer", **{a: None for a in {**script.RNN_FLAGS,
                                     **script.TRANSFORMER_FLAGS, **script.TRAINING_FLAGS}})
    args.norm, args.warmup = "post", 0
    changed = script.recipe_from(args)
    assert changed.config.norm == "post" and changed.warmup == 0 and changed.lr == RECIPES["transformer"].lr


def test_select_pairs_keeps_short_pairs_shortest_english_first_in_file_order():
    raw = [("Un deux trois quatre.", "One two three four."), ("Va !", "Go!"), ("Cours !", "Run!"),
           ("Il pleut.", "It rains.")]
    assert not is_short(raw[0], "fr", max_tokens=4)
    assert select_pairs(raw, "fr", max_tokens=4, n_pairs=2) == [("Va !", "Go!"), ("Cours !", "Run!")]
    assert shortest(raw, 1) == [("Va !", "Go!")]


def test_select_pairs_rejects_an_unknown_language():
    with pytest.raises(ValueError, match="unknown language"):
        select_pairs([("a", "b")], "xx")


def test_test_references_groups_translations_of_one_sentence():
    pairs = [SentencePair.tokenized("Je cours.", "I run."), SentencePair.tokenized("Il part.", "He leaves."),
             SentencePair.tokenized("je cours.", "I'm running.")]
    sources, references = grouped_references(pairs)
    assert sources == [["je", "cours", "."], ["il", "part", "."]]
    assert references[0] == [["i", "run", "."], ["i", "'m", "running", "."]]
    assert references[1] == [["he", "leaves", "."]]


def test_anchor_statistics_on_a_hand_made_map():
    pair = SentencePair.tokenized("Tom boit du vin.", "Tom drinks wine.")         # 5 source, 4 target tokens
    w = torch.zeros(5, 6)                                   # rows: 4 words + <eos>; columns: 5 + <eos>
    w[0, 0] = w[1, 1] = 1                                                     # tom → tom, drinks → boit
    w[2, 2] = 1                                                               # wine → du: one word before vin
    w[3, 5] = w[4, 5] = 1                                                     # . and <eos> → <eos>
    stats = anchor_statistics([w], [pair], "fr")
    assert stats.offsets == {"names": [0], "nouns": [-1]}
    assert (stats.words, stats.on_eos, stats.punctuation_on_eos) == (4, 1, 1)
    assert stats.on_word("names") == 1 and stats.on_word("nouns") == 0 and stats.on_word() == 0.5


def test_a_recipes_record_is_what_the_results_file_holds_and_rebuilds_it():
    """The script writes Recipe.record() into each results row; notebook 08 compares rows by settings_of."""
    for name, recipe in RECIPES.items():
        record = recipe.record()
        assert config_from_dict(record["config"]) == recipe.config, name
        assert record["training"] == {k: v for k, v in vars(recipe).items() if k != "config"}, name
        assert settings_of(record) == {**record["config"], **record["training"]}
    changed = RECIPES["transformer"].record()
    changed["config"]["norm"] = "pre"
    assert settings_of(changed) != settings_of(RECIPES["transformer"].record())


def test_recipe_runs_are_the_rows_of_exactly_that_recipe_language_and_units_by_seed():
    def row(seed, lang="fr", units="subwords", model="rnn", **change):
        record = RECIPES[model].record()
        record["training"].update(change)
        return {"seed": seed, "lang": lang, "units": units, "model": model, **record}

    rows = [row(2), row(0), row(1, lang="de"), row(1, units="words"), row(1, epochs=3), row(1, model="vanilla"),
            row(1)]
    found = recipe_runs(rows, "rnn")
    assert list(found) == [0, 1, 2] and found[1] is rows[-1]
    assert list(recipe_runs(rows, "rnn", lang="de")) == [1]
    assert recipe_runs(rows, "transformer") == {}



def test_best_epoch_keeps_the_weights_of_the_best_scored_epoch(data):
    from conftest import tiny_model

    from utils.real_data import BestEpoch
    from utils.train import fit

    model, loader = tiny_model(data), data.loader("train", seed=0)
    planned, seen = iter([1.0, 3.0, 2.0, 3.0]), []     # epoch 2 is the best; epoch 4 only equals it

    def score(m):
        assert not m.training                          # scored in eval mode
        seen.append({k: v.clone() for k, v in m.state_dict().items()})
        return next(planned)

    best = BestEpoch(len(loader), score)
    fit(model, loader, epochs=4, verbose=False, pad_id=data.tgt_vocab.pad_id, on_step_end=best)
    assert best.scores == [1.0, 3.0, 2.0, 3.0] and best.epoch == 2 and len(seen) == 4
    assert not all(torch.equal(v, seen[1][k]) for k, v in model.state_dict().items())   # trained on after it
    best.restore(model)
    assert all(torch.equal(v, seen[1][k]) for k, v in model.state_dict().items())
    with pytest.raises(RuntimeError, match="no epoch has ended"):
        BestEpoch(3, score).restore(model)
    with pytest.raises(ValueError, match="at least 1"):
        BestEpoch(0, score)


def test_keep_best_epoch_is_recorded_but_not_given_to_training():
    from dataclasses import replace

    recipe = replace(RECIPES["rnn"], keep_best_epoch=True)
    assert "keep_best_epoch" not in recipe.training() and recipe.training() == RECIPES["rnn"].training()
    assert recipe.record()["training"]["keep_best_epoch"] is True
    assert settings_of(recipe.record()) != settings_of(RECIPES["rnn"].record())


def recorded(seed, model="rnn", lang="fr", units="subwords", config=None, **training):
    """A results-file row of RECIPES[model] with seed, language, units and settings changed, and scores given by
    `training`'s keys that are not settings (valid_beam=..., ...)."""
    record = RECIPES[model].record()
    scores = {k: training.pop(k) for k in list(training) if k not in record["training"]}
    record["training"].update(training)
    record["config"].update(config or {})
    return {"seed": seed, "lang": lang, "units": units, "model": model, **record, **scores}


def test_runs_are_grouped_by_their_change_from_the_recipe_and_described_as_the_scripts_flags():
    from utils.real_data import FLAGS, change_of, describe_change, runs_by_change

    rows = [recorded(1), recorded(0), recorded(0, label_smoothing=0.0), recorded(0, lang="de"),
            recorded(0, config={"hidden_size": 256}, warmup=200), recorded(0, keep_best_epoch=True),
            recorded(2, model="transformer", config={"tie_embeddings": True})]
    groups = runs_by_change(rows, "rnn")
    assert list(groups[()]) == [0, 1] and groups[()][0] is rows[1]          # the recipe itself, seeds in order
    assert set(groups) == {(), (("label_smoothing", 0.0),), (("hidden_size", 256), ("warmup", 200)),
                           (("keep_best_epoch", True),)}
    assert change_of(rows[-1], "transformer") == (("tie_embeddings", True),)
    assert runs_by_change(rows, "transformer") == {(("tie_embeddings", True),): {2: rows[-1]}}
    assert list(runs_by_change(rows, "rnn", lang="de")) == [()]
    assert describe_change(()) == "the kept recipe"
    assert describe_change((("hidden_size", 256), ("warmup", 200))) == "--hidden 256 --warmup 200"
    assert describe_change((("label_smoothing", 0.1), ("norm", "pre"))) == "--smoothing 0.1 --norm pre"
    assert describe_change((("keep_best_epoch", True), ("tie_embeddings", False))) == \
        "--keep-best-epoch --no-tie-embeddings"
    script = (ROOT / "scripts" / "real_data_recipes.py").read_text()
    for name in [*FLAGS, *RECIPES["rnn"].record()["training"]]:                # every flag named is the script's
        option = FLAGS.get(name, "--" + name.replace("_", "-"))
        assert f'"{option}"' in script, option


def test_noise_threshold_is_two_sds_of_the_difference_actually_compared():
    from utils.real_data import noise_threshold

    assert noise_threshold([0.4], sd=0.5) == pytest.approx(2 * 2 ** 0.5 * 0.5)    # two single runs: √2 × one's sd
    assert noise_threshold([1.0, 2.0, 3.0], sd=99) == pytest.approx(2 * 1.0 / 3 ** 0.5)   # paired: sd(Δ) / √n
    with pytest.raises(ValueError, match="no difference"):
        noise_threshold([], sd=1.0)


def test_compare_pairs_the_seeds_both_ran():
    from utils.real_data import compare

    base = {s: {"valid_beam": b} for s, b in [(0, 30.0), (1, 31.0), (2, 29.0)]}
    one = {0: {"valid_beam": 33.0}}
    c = compare(base, one, "valid_beam", sd=1.0)
    assert c.seeds == (0,) and c.differences == (3.0,) and c.threshold == pytest.approx(2.83, abs=0.01)
    assert c.verdict == "better beyond the noise"
    assert compare(base, {0: {"valid_beam": 28.0}}, "valid_beam", sd=1.0).verdict == "within the noise"
    three = {s: {"valid_beam": b} for s, b in [(0, 29.0), (1, 30.2), (2, 27.8)]}   # −1.0, −0.8, −1.2
    c = compare(base, three, "valid_beam", sd=5.0)
    assert c.delta == pytest.approx(-1.0) and c.threshold == pytest.approx(2 * 0.2 / 3 ** 0.5)
    assert c.verdict == "worse beyond the noise"
    with pytest.raises(ValueError, match="no seed in common"):
        compare(base, {5: {"valid_beam": 1.0}}, "valid_beam", sd=1.0)


def test_search_table_lists_the_kept_recipe_then_each_change_best_first_with_its_noise():
    from utils.real_data import runs_by_change, search_table

    rows = [recorded(s, valid_beam=b, valid_greedy=b - 2, valid_beam_chrf=50.0, params=1_000_000)
            for s, b in [(0, 30.0), (1, 31.0), (2, 29.0)]]                    # sd 1.0: one-seed noise 2.83
    rows += [recorded(0, valid_beam=34.0, valid_greedy=32.0, valid_beam_chrf=55.0, params=1_000_000, warmup=200),
             recorded(0, valid_beam=29.0, valid_greedy=27.0, valid_beam_chrf=49.0, params=900_000, label_smoothing=0.0)]
    lines = search_table(runs_by_change(rows, "rnn")).splitlines()
    assert lines[1].startswith("the kept recipe") and "0,1,2" in lines[1] and "30.0" in lines[1]
    assert "1,000,000" in lines[1] and "900,000" in lines[3] and "0.9×" in lines[3] and "1.0×" in lines[2]
    assert lines[2].startswith("--warmup 200") and "+4.0" in lines[2] and "2.8" in lines[2]
    assert lines[2].endswith("better beyond the noise")
    assert lines[3].startswith("--smoothing 0 ") and "-1.0" in lines[3] and lines[3].endswith("within the noise")
    with pytest.raises(ValueError, match="one seed"):
        search_table(runs_by_change(rows[3:] + rows[:1], "rnn"))                 # the kept recipe with one seed
    rows.append(recorded(0, valid_beam=36.0, valid_greedy=34.0, valid_beam_chrf=56.0, params=1_000_000, epochs=12))
    lines = search_table(runs_by_change(rows, "rnn")).splitlines()
    assert lines[2].startswith("--epochs 12") and "1.5×" in lines[2]
    assert lines[2].endswith("better beyond the noise, over the budget")
    assert lines[3].endswith("better beyond the noise")                     # --warmup 200 costs the same


def test_best_within_budget_skips_changes_that_train_longer_or_wider():
    from utils.real_data import best_within_budget, runs_by_change, search_verdicts

    rows = [recorded(s, valid_beam=b, params=1_000_000) for s, b in [(0, 30.0), (1, 31.0), (2, 29.0)]]
    rows += [recorded(0, valid_beam=36.0, params=1_000_000, epochs=12),           # best, but 1.5× the training
             recorded(0, valid_beam=31.0, params=1_000_000, warmup=200),
             recorded(0, valid_beam=29.0, params=1_000_000, label_smoothing=0.0)]
    groups = runs_by_change(rows, "rnn")
    verdicts = search_verdicts(groups)
    assert set(verdicts) == {(("epochs", 12),), (("warmup", 200),), (("label_smoothing", 0.0),)}
    assert verdicts[(("epochs", 12),)].delta == 6.0
    change, comparison = best_within_budget(groups)
    assert change == (("warmup", 200),) and comparison.delta == 1.0 and comparison.verdict == "within the noise"
    with pytest.raises(ValueError, match="no change within the budget"):
        best_within_budget(runs_by_change(rows[:4], "rnn"))


def test_best_within_budget_is_the_change_closest_to_clearing_its_own_noise():
    """A three-seed change with a small paired noise can clear it with a smaller Δ than a one-seed change has."""
    from utils.real_data import best_within_budget, runs_by_change

    rows = [recorded(s, valid_beam=b, params=1_000_000) for s, b in [(0, 30.0), (1, 31.0), (2, 29.0)]]
    rows += [recorded(0, valid_beam=32.0, params=1_000_000, warmup=200)]            # Δ +2.0, noise 2·√2
    rows += [recorded(s, valid_beam=b + 0.5, params=1_000_000, label_smoothing=0.2)  # Δ +0.5 each seed, noise 0
             for s, b in [(0, 30.0), (1, 31.0), (2, 29.0)]]
    change, comparison = best_within_budget(runs_by_change(rows, "rnn"))
    assert change == (("label_smoothing", 0.2),) and comparison.verdict == "better beyond the noise"


def test_layer_means_average_each_layers_heads_in_layer_order():
    from utils.real_data import layer_means

    assert layer_means({"1.0": 0.9, "0.1": 0.2, "1.1": 0.7, "0.0": 0.4}) == pytest.approx([0.3, 0.8])


def test_relative_cost_is_epochs_times_parameters():
    from utils.real_data import relative_cost

    kept = {s: recorded(s, params=1000) for s in (0, 1)}
    assert relative_cost(kept, kept) == 1.0
    assert relative_cost({0: recorded(0, params=2000, epochs=12)}, kept) == pytest.approx(2000 * 12 / (1000 * 8))


def test_gap_table_gives_each_recipes_share_of_the_gap_over_the_same_seeds():
    from utils.real_data import gap_table

    def group(*beams):
        return {s: {"valid_beam": b} for s, b in enumerate(beams)}

    text = gap_table([("RNN", group(30.0, 31.0, 29.0)), ("RNN + x", group(32.0, 33.5, 30.5)),
                      ("Transformer", group(40.0, 41.0, 39.0))])
    lines = text.splitlines()
    assert "30.0 ± 1.0" in lines[1]
    # + x: differences +2.0, +2.5, +1.5 (mean 2.0, sd 0.5: noise 2·0.5/√3 = 0.58) of a gap of 10: 20 %
    assert "+2.0" in lines[2] and "0.6" in lines[2] and "20%" in lines[2] and "better beyond the noise" in lines[2]
    assert "100%" in lines[3]
    with pytest.raises(ValueError, match="base recipe"):
        gap_table([("RNN", group(30.0))])
