"""A synthetic French→English corpus with gold word alignments.

Sentences come from a small grammar with real words: gendered determiners (le/la/l'/les,
un/une/des), adjectives before *and after* the noun ("la petite maison bleue" → "the small blue
house"), verbs in the present tense that agree with their subject, negation ("ne … pas" →
"does not"), adverbs that move ("mange souvent" → "often eats"), prepositional phrases with
contractions ("près du jardin" → "near the garden"), the possessive "de" ("le chat de ma sœur" →
"my sister 's cat"), relative clauses and coordination to reach 50+ tokens.

Because every sentence is built phrase by phrase, we know which French token produced which
English token: the **gold alignment**, written in Pharaoh format (``"0-0 1-2 2-1"``: source
index - target index, 0-based token positions). Attention can be scored against it.

Regenerate the committed files with ``python -m utils.corpus`` (deterministic for a seed).
"""
from __future__ import annotations

import argparse
import random
from dataclasses import dataclass, field
from pathlib import Path

from utils.pairs import SentencePair
from utils.text import detokenize, tokenize

# ----------------------------------------------------------------------------- lexicon
# nouns: French singular, French plural, gender, English singular, English plural
NOUNS = [
    ("chat", "chats", "m", "cat", "cats"),
    ("chien", "chiens", "m", "dog", "dogs"),
    ("garçon", "garçons", "m", "boy", "boys"),
    ("homme", "hommes", "m", "man", "men"),
    ("livre", "livres", "m", "book", "books"),
    ("jardin", "jardins", "m", "garden", "gardens"),
    ("oiseau", "oiseaux", "m", "bird", "birds"),
    ("arbre", "arbres", "m", "tree", "trees"),
    ("professeur", "professeurs", "m", "teacher", "teachers"),
    ("voisin", "voisins", "m", "neighbour", "neighbours"),
    ("gâteau", "gâteaux", "m", "cake", "cakes"),
    ("cheval", "chevaux", "m", "horse", "horses"),
    ("maison", "maisons", "f", "house", "houses"),
    ("fille", "filles", "f", "girl", "girls"),
    ("femme", "femmes", "f", "woman", "women"),
    ("voiture", "voitures", "f", "car", "cars"),
    ("table", "tables", "f", "table", "tables"),
    ("fleur", "fleurs", "f", "flower", "flowers"),
    ("pomme", "pommes", "f", "apple", "apples"),
    ("ville", "villes", "f", "city", "cities"),
    ("rivière", "rivières", "f", "river", "rivers"),
    ("lettre", "lettres", "f", "letter", "letters"),
    ("chaise", "chaises", "f", "chair", "chairs"),
    ("école", "écoles", "f", "school", "schools"),
]
# possessors in "le chat de ma sœur" (singular, so the English is always "X 's")
KIN = [
    ("sœur", "f", "sister"), ("frère", "m", "brother"), ("mère", "f", "mother"),
    ("père", "m", "father"), ("ami", "m", "friend"), ("tante", "f", "aunt"),
    ("oncle", "m", "uncle"), ("cousine", "f", "cousin"),
]
# adjectives: masc. sg, fem. sg, masc. pl, fem. pl, English
ADJ_BEFORE = [
    ("petit", "petite", "petits", "petites", "small"),
    ("grand", "grande", "grands", "grandes", "big"),
    ("jeune", "jeune", "jeunes", "jeunes", "young"),
    ("joli", "jolie", "jolis", "jolies", "pretty"),
]
ADJ_AFTER = [
    ("bleu", "bleue", "bleus", "bleues", "blue"),
    ("rouge", "rouge", "rouges", "rouges", "red"),
    ("vert", "verte", "verts", "vertes", "green"),
    ("fatigué", "fatiguée", "fatigués", "fatiguées", "tired"),
    ("célèbre", "célèbre", "célèbres", "célèbres", "famous"),
    ("heureux", "heureuse", "heureux", "heureuses", "happy"),
    ("rapide", "rapide", "rapides", "rapides", "fast"),
    ("intelligent", "intelligente", "intelligents", "intelligentes", "clever"),
]
# verbs: French 3sg, 3pl, English 3sg, English base form (a tuple: "looks for" is two tokens)
INTRANSITIVE = [
    ("dort", "dorment", ("sleeps",), ("sleep",)),
    ("court", "courent", ("runs",), ("run",)),
    ("chante", "chantent", ("sings",), ("sing",)),
    ("travaille", "travaillent", ("works",), ("work",)),
    ("arrive", "arrivent", ("arrives",), ("arrive",)),
    ("rit", "rient", ("laughs",), ("laugh",)),
]
TRANSITIVE = [
    ("mange", "mangent", ("eats",), ("eat",)),
    ("voit", "voient", ("sees",), ("see",)),
    ("aime", "aiment", ("likes",), ("like",)),
    ("regarde", "regardent", ("watches",), ("watch",)),
    ("cherche", "cherchent", ("looks", "for"), ("look", "for")),
    ("trouve", "trouvent", ("finds",), ("find",)),
    ("attend", "attendent", ("waits", "for"), ("wait", "for")),
    ("porte", "portent", ("carries",), ("carry",)),
    ("suit", "suivent", ("follows",), ("follow",)),
    ("écoute", "écoutent", ("listens", "to"), ("listen", "to")),
]
ADVERBS = [("souvent", "often"), ("toujours", "always"), ("parfois", "sometimes"),
           ("rarement", "rarely")]
PREPOSITIONS = [
    (("dans",), ("in",)), (("sur",), ("on",)), (("sous",), ("under",)),
    (("avec",), ("with",)), (("derrière",), ("behind",)), (("devant",), ("in", "front", "of")),
    (("près", "de"), ("near",)), (("loin", "de"), ("far", "from")),
    (("à", "côté", "de"), ("next", "to")), (("pour",), ("for",)),
]
CONJUNCTIONS = [(("et",), ("and",)), (("mais",), ("but",)), (("parce", "que"), ("because",)),
                (("quand",), ("when",)), (("alors", "que"), ("while",))]
PRONOUNS = {("m", "sg"): ("il", "he"), ("f", "sg"): ("elle", "she"),
            ("m", "pl"): ("ils", "they"), ("f", "pl"): ("elles", "they")}
POSSESSIVE = {"my": ("mon", "ma", "mes"), "your": ("ton", "ta", "tes"),
              "our": ("notre", "notre", "nos")}

VOWELS = tuple("aeiouyéèêâàîôûh")  # 'h' muet: l'homme (all our h-words are mute)


# ----------------------------------------------------------------------------- phrases
@dataclass
class Phrase:
    """French tokens, English tokens and the links between them (source index, target index)."""

    fr: list[str]
    en: list[str]
    links: list[tuple[int, int]] = field(default_factory=list)


def word(fr: tuple[str, ...] | str, en: tuple[str, ...] | str) -> Phrase:
    """A unit whose every French token is linked to every English token (1-1, 1-n, n-1)."""
    fr = (fr,) if isinstance(fr, str) else tuple(fr)
    en = (en,) if isinstance(en, str) else tuple(en)
    links = [(i, j) for i in range(len(fr)) for j in range(len(en))]
    return Phrase(list(fr), list(en), links)


def combine(parts: list[Phrase], english_order: list[int] | None = None) -> Phrase:
    """Concatenate phrases: French in list order, English in ``english_order`` (a permutation)."""
    order = english_order if english_order is not None else list(range(len(parts)))
    fr_offsets, en_offsets, fr, en = [], {}, [], []
    for p in parts:
        fr_offsets.append(len(fr))
        fr += p.fr
    for k in order:
        en_offsets[k] = len(en)
        en += parts[k].en
    links = [(i + fr_offsets[k], j + en_offsets[k]) for k, p in enumerate(parts) for i, j in p.links]
    return Phrase(fr, en, links)


def finalize(p: Phrase) -> Phrase:
    """Apply French elision/contraction and English a/an; keep the links consistent."""
    fr, links = list(p.fr), list(p.links)
    # elision: le/la → l', de → d', ne → n', que → qu' before a vowel (l'homme, n'aime, qu'il)
    elide = {"le": "l'", "la": "l'", "de": "d'", "ne": "n'", "que": "qu'"}
    # possessives take the masculine form before a vowel: ma école → mon école
    before_vowel = {**elide, "ma": "mon", "ta": "ton", "sa": "son"}
    for i in range(len(fr) - 1):
        if fr[i] in before_vowel and fr[i + 1].startswith(VOWELS):
            fr[i] = before_vowel[fr[i]]
    # contraction: de + le → du, de + les → des, à + le → au, à + les → aux
    merge = {("de", "le"): "du", ("de", "les"): "des", ("à", "le"): "au", ("à", "les"): "aux"}
    i = 0
    while i < len(fr) - 1:
        if (fr[i], fr[i + 1]) in merge:
            fr[i:i + 2] = [merge[(fr[i], fr[i + 1])]]
            links = [(s if s <= i else s - 1, t) for s, t in links]
        i += 1
    en = ["an" if w == "a" and k + 1 < len(p.en) and p.en[k + 1][0] in "aeiou" else w
          for k, w in enumerate(p.en)]
    return Phrase(fr, en, sorted(set(links)))


# ----------------------------------------------------------------------------- grammar
class Grammar:
    """Random phrase generators. ``rng`` is a ``random.Random``: one seed, one corpus."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def adjective(self, table, gender: str, number: str) -> Phrase:
        forms = self.rng.choice(table)
        index = {("m", "sg"): 0, ("f", "sg"): 1, ("m", "pl"): 2, ("f", "pl"): 3}[(gender, number)]
        return word(forms[index], forms[4])

    def noun_phrase(self, allow_relative: bool = True, definite_only: bool = False) -> tuple[Phrase, str]:
        """A noun phrase and its number ('sg'/'pl'), e.g. "la petite maison bleue"."""
        rng = self.rng
        fr_sg, fr_pl, gender, en_sg, en_pl = rng.choice(NOUNS)
        number = "pl" if self.chance(0.35) else "sg"
        noun = word(fr_sg if number == "sg" else fr_pl, en_sg if number == "sg" else en_pl)
        before = self.adjective(ADJ_BEFORE, gender, number) if self.chance(0.3) else None
        after = self.adjective(ADJ_AFTER, gender, number) if self.chance(0.4) else None
        core = [a for a in (before, noun) if a is not None]
        # French: [before] noun [after]; English: [before] [after] noun
        if after is not None:
            core_phrase = combine(core + [after], list(range(len(core) - 1)) + [len(core), len(core) - 1])
        else:
            core_phrase = combine(core)

        if self.chance(0.2) and not definite_only:  # possessive "de": le chat de ma sœur
            return combine([Phrase(["le" if gender == "m" and number == "sg" else
                                     "la" if number == "sg" else "les"], [], []),
                            core_phrase, self.possessor()], [2, 1, 0]), number
        kind = "the" if definite_only else rng.choice(["the", "the", "a", "poss"])
        if kind == "the":
            det = word("les" if number == "pl" else ("le" if gender == "m" else "la"), "the")
        elif kind == "a":
            det = word("des", "some") if number == "pl" else word("un" if gender == "m" else "une", "a")
            if number == "pl" and before is not None:
                det = word("de", "some")  # "de petits chats": des → de before an adjective
        else:
            owner = rng.choice(list(POSSESSIVE))
            forms = POSSESSIVE[owner]
            det = word(forms[2] if number == "pl" else forms[0 if gender == "m" else 1], owner)
        phrase = combine([det, core_phrase])
        if allow_relative and self.chance(0.25):
            phrase = combine([phrase, word("qui", "that"), self.verb_phrase(number, nested=True)])
        return phrase, number

    def possessor(self) -> Phrase:
        """ "de ma sœur" → "my sister 's" (French order: de det noun; English: det noun 's)."""
        fr_noun, gender, en_noun = self.rng.choice(KIN)
        if self.chance(0.5):
            owner = self.rng.choice(list(POSSESSIVE))
            det = word(POSSESSIVE[owner][0 if gender == "m" else 1], owner)
        else:
            det = word("le" if gender == "m" else "la", "the")
        return combine([word("de", "'s"), det, word(fr_noun, en_noun)], [1, 2, 0])

    def verb_phrase(self, number: str, nested: bool = False) -> Phrase:
        """Verb with agreement, optional object, negation or a moved adverb."""
        rng = self.rng
        transitive = self.chance(0.65)
        fr3sg, fr3pl, en3sg, en_base = rng.choice(TRANSITIVE if transitive else INTRANSITIVE)
        fr_verb = fr3sg if number == "sg" else fr3pl
        parts: list[Phrase]
        if self.chance(0.2):  # negation: "ne mange pas" → "does not eat" (ne, pas → not)
            aux = "does" if number == "sg" else "do"
            parts = [Phrase(["ne", fr_verb, "pas"], [aux, "not", *en_base],
                            [(0, 1), (2, 1), (1, 0)] + [(1, 2 + j) for j in range(len(en_base))])]
        elif self.chance(0.2):  # adverb moves: mange souvent → often eats
            fr_adv, en_adv = rng.choice(ADVERBS)
            parts = [combine([word(fr_verb, en3sg if number == "sg" else en_base), word(fr_adv, en_adv)],
                             [1, 0])]
        else:
            parts = [word(fr_verb, en3sg if number == "sg" else en_base)]
        if transitive:
            obj, _ = self.noun_phrase(allow_relative=False)
            parts.append(obj)
        if not nested and self.chance(0.45):
            parts.append(self.prepositional_phrase())
        return combine(parts)

    def prepositional_phrase(self) -> Phrase:
        fr, en = self.rng.choice(PREPOSITIONS)
        np, _ = self.noun_phrase(allow_relative=False, definite_only=True)
        return combine([word(fr, en), np])

    def clause(self) -> Phrase:
        if self.chance(0.12):  # pronoun subject: il, elle, ils, elles
            gender, number = self.rng.choice(list(PRONOUNS))
            fr, en = PRONOUNS[(gender, number)]
            subject = word(fr, en)
        else:
            subject, number = self.noun_phrase()
        return combine([subject, self.verb_phrase(number)])

    def sentence(self, n_clauses: int) -> Phrase:
        parts = [self.clause()]
        for _ in range(n_clauses - 1):
            fr, en = self.rng.choice(CONJUNCTIONS)
            parts += [word(fr, en), self.clause()]
        parts.append(word(".", "."))
        return finalize(combine(parts))


# ----------------------------------------------------------------------------- corpus
LENGTH_BUCKETS = [(4, 10), (11, 20), (21, 30), (31, 40), (41, 50), (51, 60)]
"""Source-length buckets (inclusive, in French tokens) used for sampling and for the test split."""


def make_pair(grammar: Grammar, min_len: int, max_len: int) -> SentencePair:
    """Sample sentences until one has between ``min_len`` and ``max_len`` French tokens."""
    target = grammar.rng.randint(min_len, max_len)
    while True:
        n_clauses = max(1, round(target / 10 + grammar.rng.uniform(-0.6, 0.6)))
        p = grammar.sentence(n_clauses)
        if min_len <= len(p.fr) <= max_len:
            fr, en = detokenize(p.fr, "fr"), detokenize(p.en, "en")
            assert tokenize(fr, "fr") == p.fr and tokenize(en, "en") == p.en, (p.fr, p.en)
            return SentencePair.tokenized(fr, en, alignment=tuple(p.links))


def generate_splits(seed: int = 0, n_train: int = 12000, n_valid: int = 600,
                    n_test_per_bucket: int = 100) -> dict[str, list[SentencePair]]:
    """Train/valid sampled uniformly over LENGTH_BUCKETS; test stratified (same count per bucket).

    French sentences never repeat within or across splits.
    """
    grammar = Grammar(random.Random(seed))
    seen: set[str] = set()

    def draw(bucket: tuple[int, int]) -> SentencePair:
        while True:
            pair = make_pair(grammar, *bucket)
            if pair.fr not in seen:
                seen.add(pair.fr)
                return pair

    test = [draw(b) for b in LENGTH_BUCKETS for _ in range(n_test_per_bucket)]
    valid = [draw(LENGTH_BUCKETS[i % len(LENGTH_BUCKETS)]) for i in range(n_valid)]
    train = [draw(grammar.rng.choice(LENGTH_BUCKETS)) for _ in range(n_train)]
    return {"train": train, "valid": valid, "test": test}


def to_pharaoh(links) -> str:
    """``[(0, 0), (1, 2)]`` → ``"0-0 1-2"``."""
    return " ".join(f"{s}-{t}" for s, t in links)


def from_pharaoh(text: str) -> tuple[tuple[int, int], ...]:
    """``"0-0 1-2"`` → ``((0, 0), (1, 2))``. Raises ValueError on anything else."""
    links = []
    for item in text.split():
        s, sep, t = item.partition("-")
        if not sep or not s.isdigit() or not t.isdigit():
            raise ValueError(f"not a Pharaoh link: {item!r} (expected e.g. '3-5')")
        links.append((int(s), int(t)))
    return tuple(links)


def write_split(pairs: list[SentencePair], path: Path) -> None:
    """One pair a line: ``French<TAB>English<TAB>alignment``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for p in pairs:
            f.write(f"{p.fr}\t{p.en}\t{to_pharaoh(p.alignment)}\n")


DEFAULT_DIR = Path(__file__).resolve().parent.parent / "data" / "synthetic"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Regenerate the synthetic corpus files.")
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for name, pairs in generate_splits(args.seed).items():
        write_split(pairs, args.out / f"{name}.tsv")
        print(f"wrote {len(pairs):6d} pairs to {args.out.name}/{name}.tsv")


if __name__ == "__main__":
    main()
