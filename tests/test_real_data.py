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

