"""A deterministic, generated toy NER corpus: the default data set the README's main command trains on.

It exists so that the whole pipeline (reader -> vocab -> BiLSTM-CRF -> seqeval F1) can be run in about
a minute on a CPU with no download. The set is easy to learn yet needs character features to generalise:

* English-like news sentences from ~55 templates (some with 2-3 entities, some with none), tokens
  split CoNLL-style, tags in IOB2 over PER, LOC, ORG and MISC; multi-token entities are common.
* Names are built from random syllable stems plus type-specific endings and designators
  (PER ``-son``/``-ez``/``-ski``/``-ova`` ..., LOC ``-burg``/``-ton``/``-stan``/``-ia``, ``Port X``,
  ``X City``; ORG ``-tech``/``-corp``, ``X Bank``, ``X Holdings``, acronyms; MISC ``-ian``/``-ese``/
  ``-ish`` adjectives, ``X Cup``, ``X Open``), so the type of an unseen name shows in its characters.
* Every split has its own stems and names: no name token (hence no entity string) of the test or val
  split occurs in any other split, so word embeddings alone cannot memorise the test entities.
* Many contexts are shared between types ("{X} declined to comment" is PER or ORG, "the {X} government"
  LOC or MISC), so a word-only model without characters guesses the type of unseen names; capitalised
  non-entity words ("The", "On", "Prime Minister", months, days) keep capitalisation from being a
  perfect cue.

Only ``random.Random(seed)`` is used, so a seed gives the same corpus on every run and Python version.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

from textlab.data.sentence import Sentence

# Slots: {PER} {LOC} {ORG} {ADJ} (MISC adjective) {EVENT} (MISC event) have one type; the shared ones
# below may be filled by several, so the context alone cannot tell the type; {DAY} {MONTH} {YEAR} {NUM} are O.
SHARED_SLOTS = {"AGENT": ["PER", "ORG"], "TEAM": ["LOC", "ORG"], "SIDE": ["PER", "LOC", "ORG"],
                "NATION": ["ADJ", "LOC"], "ANY": ["PER", "LOC", "ORG", "ADJ", "EVENT"]}
TEMPLATES = [
    "{AGENT} said on {DAY} that profits rose {NUM} percent .",
    "{PER} , who was born in {LOC} , joined {ORG} in {YEAR} .",
    "The {NATION} government announced new measures on {DAY} .",
    "{ORG} shares fell {NUM} percent in {LOC} trading .",
    "{SIDE} won the {EVENT} on {DAY} .",
    "On {DAY} , {PER} arrived in {LOC} for talks .",
    "In {MONTH} , {ORG} opened a new office in {LOC} .",
    "{TEAM} beat {TEAM} {NUM} - {NUM} in the {EVENT} final .",
    "The meeting was postponed until {MONTH} {NUM} .",
    "Prices rose sharply in the third quarter , analysts said .",
    "{AGENT} declined to comment .",
    "According to {AGENT} , the deal is worth {NUM} million dollars .",
    "{AGENT} told reporters in {LOC} that the talks had failed .",
    "Police in {LOC} arrested {NUM} people on {DAY} .",
    "{AGENT} agreed to buy {ORG} for {NUM} million dollars .",
    "The {NATION} team finished second behind {TEAM} .",
    "{SIDE} will face {SIDE} in the second round of the {EVENT} .",
    "Officials from {TEAM} met {ADJ} diplomats in {LOC} .",
    "It was the first time since {YEAR} that {TEAM} had hosted the event .",
    "{PER} , a spokesman for {ORG} , confirmed the report .",
    "Heavy rain caused flooding across {LOC} on {DAY} .",
    "{AGENT} said the results were better than expected .",
    "The {EVENT} will take place in {LOC} in {MONTH} .",
    "Shares closed {NUM} cents higher at {NUM} dollars .",
    "{PER} scored twice as {TEAM} won {NUM} - {NUM} .",
    "Talks between {SIDE} and {SIDE} resumed on {DAY} .",
    "{ORG} reported a net loss of {NUM} million in {YEAR} .",
    "The {NATION} minister , {PER} , resigned on {DAY} .",
    "{PER} was appointed chief executive of {ORG} .",
    "Thousands of {NATION} fans travelled to {LOC} for the match .",
    "Markets were closed on {DAY} for a public holiday .",
    "He said the decision would be announced in {MONTH} .",
    "{ANY} was mentioned several times in the report .",
    "A court in {LOC} fined {AGENT} {NUM} million dollars on {DAY} .",
    "{PER} , {NUM} , has played for {TEAM} since {YEAR} .",
    "The {EVENT} attracted {NUM} visitors last year .",
    "Reporters asked {AGENT} about the new contract .",
    "{LOC} exports to {LOC} grew by {NUM} percent .",
    "Sources close to {AGENT} said the plan was dropped .",
    "The index dropped {NUM} points to {NUM} .",
    "{PER} and {PER} signed the agreement in {LOC} .",
    "Prime Minister {PER} visited {LOC} on {DAY} .",
    "{ORG} , based in {LOC} , employs {NUM} people .",
    "The {NATION} delegation left {LOC} on {DAY} .",
    "In {YEAR} , {AGENT} lost a lawsuit against {AGENT} .",
    "Supporters of {SIDE} gathered outside the stadium .",
    "Forecasters expect snow in the north by {MONTH} .",
    "Rain stopped play in the {EVENT} on {DAY} .",
    "Interest rates will stay at {NUM} percent , the bank said .",
    "{AGENT} is expected to announce a decision by {MONTH} .",
    "President {PER} praised the {NATION} players after the {EVENT} .",
    "Flights from {LOC} to {LOC} were cancelled on {DAY} .",
    "The report criticised {ANY} for the delays .",
    "{SIDE} finished ahead of {SIDE} in the standings .",
    "Many voters in {LOC} still support {AGENT} .",
    "{AGENT} has not yet responded to the claims .",
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]

ONSETS = ["b", "br", "c", "ch", "d", "dr", "f", "g", "gr", "h", "j", "k", "kr", "l", "m", "n",
          "p", "pr", "r", "s", "st", "t", "tr", "v", "z"]
VOWELS = ["a", "e", "i", "o", "u", "a", "e", "o"]
CODAS = ["l", "n", "r", "m", "s", "d", "k", "v", "th", "nd", "rn"]

SURNAME_ENDS = ["son", "sen", "ez", "ski", "ska", "ova", "enko", "ini", "ides", "ovic"]
GIVEN_ENDS = ["a", "o", "el", "ine", "us", "ette", "ard", "ina"]
PARTICLES = ["van", "de", "al"]
LOC_ENDS = ["burg", "ton", "ville", "stan", "ia", "field", "mouth", "polis", "grad"]
LOC_PREFIXES = ["North", "South", "East", "West", "New", "Lake"]
ORG_ENDS = ["tech", "corp", "soft", "tron", "dyne", "com"]
ORG_WORDS = ["Bank", "Group", "Holdings", "Inc", "Airlines", "Motors", "Energy", "Partners"]
ADJ_ENDS = ["ian", "ese", "ish", "ic"]
EVENT_WORDS = ["Cup", "Open", "Games", "Championship", "Trophy"]
ALL_ENDS = SURNAME_ENDS + GIVEN_ENDS + LOC_ENDS + ORG_ENDS + ADJ_ENDS
# Words that recur inside entities of every split on purpose; everything else in a name is split-specific.
DESIGNATORS = set(PARTICLES + LOC_PREFIXES + ORG_WORDS + EVENT_WORDS + ["Port", "City", "Grand", "Prix", "Systems"])

SPLIT_TYPE = {"PER": "PER", "LOC": "LOC", "ORG": "ORG", "ADJ": "MISC", "EVENT": "MISC"}


def _stems(rng: random.Random, count: int, taken: set[str]) -> list[str]:
    """``count`` new capitalised stems ending in a consonant, none in ``taken`` (which they are added to)."""
    out: list[str] = []
    while len(out) < count:
        stem = rng.choice(ONSETS) + rng.choice(VOWELS)
        if rng.random() < 0.7:  # two syllables
            stem += rng.choice(["", "l", "n", "r"]) + rng.choice(ONSETS) + rng.choice(VOWELS)
        stem = (stem + rng.choice(CODAS)).capitalize()
        if stem.lower() in taken or any(stem.lower().endswith(e) for e in ALL_ENDS):
            continue
        taken.add(stem.lower())
        out.append(stem)
    return out


def _name(rng: random.Random, kind: str, stems: list[str]) -> tuple[str, ...]:
    s = lambda: rng.choice(stems)  # noqa: E731
    r = rng.random()
    if kind == "PER":
        surname = s() + rng.choice(SURNAME_ENDS)
        given = lambda: s() + rng.choice(GIVEN_ENDS)  # noqa: E731
        if r < 0.3:
            return (surname,)
        if r < 0.75:
            return (given(), surname)
        if r < 0.85:
            return (s()[0] + ".", surname)
        if r < 0.95:
            return (given(), given(), surname)
        return (given(), rng.choice(PARTICLES), surname)
    if kind == "LOC":
        if r < 0.55:
            return (s() + rng.choice(LOC_ENDS),)
        if r < 0.7:
            return ("Port", s())
        if r < 0.82:
            return (s(), "City")
        return (rng.choice(LOC_PREFIXES), s() + rng.choice(LOC_ENDS))
    if kind == "ORG":
        if r < 0.35:
            return (s() + rng.choice(ORG_ENDS),)
        if r < 0.8:
            return (s(), rng.choice(ORG_WORDS))
        if r < 0.9:
            return (s() + rng.choice(ORG_ENDS), rng.choice(["Systems", "Group", "Inc"]))
        return ("".join(rng.choice(stems)[0] for _ in range(rng.randint(3, 4))),)
    if kind == "ADJ":
        return (s() + rng.choice(ADJ_ENDS),)
    # EVENT
    adjective = s() + rng.choice(ADJ_ENDS)
    if r < 0.15:
        return (adjective, "Grand", "Prix")
    if r < 0.55:
        return (adjective, rng.choice(EVENT_WORDS))
    return (s(), rng.choice(EVENT_WORDS))


def _pools(rng: random.Random, stems: list[str], size: int, split: str,
           owner: dict[str, str]) -> dict[str, list[tuple[str, ...]]]:
    """``size`` distinct names per kind; a name token owned by another split is never reused."""
    pools: dict[str, list[tuple[str, ...]]] = {}
    for kind in SPLIT_TYPE:
        names: dict[tuple[str, ...], None] = {}
        while len(names) < size:
            name = _name(rng, kind, stems)
            own = [t for t in name if t not in DESIGNATORS and not t.endswith(".")]
            if any(owner.get(t, split) != split for t in own):
                continue
            for t in own:
                owner[t] = split
            names[name] = None
        pools[kind] = list(names)
    return pools


def _number(rng: random.Random) -> str:
    if rng.random() < 0.25:
        return f"{rng.randint(1, 99)}.{rng.randint(0, 9)}"
    return str(rng.randint(1, 99 if rng.random() < 0.8 else 5000))


def _sentence(rng: random.Random, pools: dict[str, list[tuple[str, ...]]]) -> Sentence:
    tokens: list[str] = []
    tags: list[str] = []
    used: set[tuple[str, ...]] = set()
    for word in rng.choice(TEMPLATES).split():
        if not (word.startswith("{") and word.endswith("}")):
            tokens.append(word)
            tags.append("O")
            continue
        slot = word[1:-1]
        fillers = {"DAY": lambda: rng.choice(DAYS), "MONTH": lambda: rng.choice(MONTHS),
                   "YEAR": lambda: str(rng.randint(1950, 2024)), "NUM": lambda: _number(rng)}
        if slot in fillers:
            tokens.append(fillers[slot]())
            tags.append("O")
            continue
        if slot in SHARED_SLOTS:
            slot = rng.choice(SHARED_SLOTS[slot])
        name = rng.choice(pools[slot])
        while name in used:  # no entity twice in one sentence
            name = rng.choice(pools[slot])
        used.add(name)
        tokens.extend(name)
        tags.extend([f"B-{SPLIT_TYPE[slot]}"] + [f"I-{SPLIT_TYPE[slot]}"] * (len(name) - 1))
    return Sentence(tokens=tokens, tags=tags)


def generate_toy_ner(seed: int = 0, num_train: int = 3000, num_val: int = 500,
                     num_test: int = 500) -> dict[str, list[Sentence]]:
    """The toy corpus as ``{"train": [...], "val": [...], "test": [...]}``; identical for identical arguments."""
    rng = random.Random(seed)
    template_words = {w.lower() for t in TEMPLATES for w in t.split()} | {w.lower() for w in DAYS + MONTHS}
    taken = set(template_words) | {w.lower() for w in DESIGNATORS}
    owner: dict[str, str] = {}
    out: dict[str, list[Sentence]] = {}
    for split, n in [("train", num_train), ("val", num_val), ("test", num_test)]:
        stems = _stems(rng, max(40, n // 5), taken)
        pools = _pools(rng, stems, max(25, n // 8), split, owner)
        out[split] = [_sentence(rng, pools) for _ in range(n)]
    return out


def write_conll(sentences: list[Sentence], path: str | os.PathLike) -> None:
    """Write ``token TAG`` lines (just ``token`` for untagged sentences), a blank line after each sentence."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for sentence in sentences:
            tags = sentence.tags if sentence.tags is not None else [None] * len(sentence.tokens)
            for token, tag in zip(sentence.tokens, tags):
                f.write(f"{token} {tag}\n" if tag is not None else f"{token}\n")
            f.write("\n")
