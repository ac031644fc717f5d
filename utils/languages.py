"""The languages this series can read: their codes, names and Tatoeba file codes.

Codes are ISO 639-1 (``"fr"``), as :func:`utils.text.tokenize` takes them. manythings.org names its
Tatoeba exports with ISO 639-3 codes (``deu-eng.zip`` holds ``deu.txt``): :data:`TATOEBA_CODES`.
A language is supported when :mod:`utils.text` has tokenisation rules for it; to add one, add it
here and give it rules there.
"""
from __future__ import annotations

LANGUAGES = {"en": "English", "fr": "French", "de": "German", "es": "Spanish"}
"""Supported language codes and their English names."""

TATOEBA_CODES = {"en": "eng", "fr": "fra", "de": "deu", "es": "spa"}
"""The 3-letter code manythings.org uses in its file names (``fra-eng.zip``, ``fra.txt``)."""


def language_name(lang: str) -> str:
    """``"de"`` → ``"German"``; a ``ValueError`` listing the supported codes for any other."""
    if lang not in LANGUAGES:
        supported = ", ".join(f"{code!r} ({name})" for code, name in LANGUAGES.items())
        raise ValueError(f"unknown language {lang!r}: supported are {supported}")
    return LANGUAGES[lang]
