"""The languages this series can read: their codes, names and Tatoeba file codes.

Codes are ISO 639-1 (``"fr"``), as :func:`utils.text.tokenize` takes them. manythings.org names its
Tatoeba exports with ISO 639-3 codes (``deu-eng.zip`` holds ``deu.txt``): :data:`TATOEBA_CODES`.
A language is supported when :mod:`utils.text` has tokenisation rules for it. To add one, give it
a name in :data:`LANGUAGES`, its file code in :data:`TATOEBA_CODES` and its anchor words in
:data:`ANCHOR_WORDS` here, and a rule in ``utils.text._TOKEN``;
``tests/test_text.py::test_every_language_has_what_the_series_needs`` says what is missing.
"""
from __future__ import annotations

LANGUAGES = {"en": "English", "fr": "French", "de": "German", "es": "Spanish"}
"""Supported language codes and their English names."""

TATOEBA_CODES = {"en": "eng", "fr": "fra", "de": "deu", "es": "spa"}
"""The 3-letter code manythings.org uses in its file names (``fra-eng.zip``, ``fra.txt``)."""


ENGLISH_MARKERS = frozenset({"the", "i", "you", "it", "is", "are", "to", "and", "of", "not", "this", "that", "what",
                             "my", "your", "we", "they", "she", "be", "have", "can", "do"})
"""Common English words that are not words of the other languages here (no *he*, *me*: Spanish;
no *was*, *will*, *in*: German): a sentence with one of them is most likely English. Used by
:func:`utils.data.load_tatoeba` to notice a file whose columns are swapped."""


def language_name(lang: str) -> str:
    """``"de"`` → ``"German"``; a ``ValueError`` listing the supported codes for any other."""
    if lang not in LANGUAGES:
        supported = ", ".join(f"{code!r} ({name})" for code, name in LANGUAGES.items())
        raise ValueError(f"unknown language {lang!r}: supported are {supported}")
    return LANGUAGES[lang]


ANCHOR_WORDS = {
    "fr": {"tom": "tom", "marie": "mary", "homme": "man", "femme": "woman", "chat": "cat", "chien": "dog",
           "maison": "house", "voiture": "car", "livre": "book", "vin": "wine", "eau": "water", "pain": "bread",
           "porte": "door", "argent": "money", "père": "father", "mère": "mother", "frère": "brother",
           "sœur": "sister", "école": "school", "rouge": "red", "lait": "milk", "café": "coffee", "bière": "beer",
           "thé": "tea", "fenêtre": "window", "arbre": "tree", "lettre": "letter", "cheval": "horse",
           "poisson": "fish", "oiseau": "bird", "nuit": "night", "neige": "snow", "pluie": "rain"},
    "de": {"tom": "tom", "maria": "mary", "mann": "man", "frau": "woman", "katze": "cat", "hund": "dog",
           "haus": "house", "auto": "car", "buch": "book", "wein": "wine", "wasser": "water", "brot": "bread",
           "tür": "door", "geld": "money", "vater": "father", "mutter": "mother", "bruder": "brother",
           "schwester": "sister", "schule": "school", "rot": "red", "milch": "milk", "kaffee": "coffee",
           "bier": "beer", "tee": "tea", "fenster": "window", "baum": "tree", "brief": "letter", "pferd": "horse",
           "fisch": "fish", "vogel": "bird", "nacht": "night", "schnee": "snow", "regen": "rain"},
    "es": {"tom": "tom", "maría": "mary", "hombre": "man", "mujer": "woman", "gato": "cat", "perro": "dog",
           "casa": "house", "coche": "car", "libro": "book", "vino": "wine", "agua": "water", "pan": "bread",
           "puerta": "door", "dinero": "money", "padre": "father", "madre": "mother", "hermano": "brother",
           "hermana": "sister", "escuela": "school", "rojo": "red", "leche": "milk", "café": "coffee",
           "cerveza": "beer", "té": "tea", "ventana": "window", "árbol": "tree", "carta": "letter",
           "caballo": "horse", "pez": "fish", "pájaro": "bird", "noche": "night", "nieve": "snow", "lluvia": "rain"},
}
"""Per source language, words whose one-word English translation is not in doubt, names first:
anchors for measuring where attention looks on data without gold alignments
(:func:`utils.metrics.anchor_offsets`; notebook 06 and ``scripts/real_data_recipes.py``)."""
ANCHOR_NAMES = 2
"""The first entries of each :data:`ANCHOR_WORDS` lexicon that are names."""
