"""A deterministic, generated toy sentence-classification set: product reviews in three classes.

It exists so that every classifier (TextCNN, pooled LSTM, EmbeddingBag) can be trained end to end in
well under a minute on a CPU with no download, and so that a model that ignores word order is seen
to fail on part of it:

* ``positive``, ``negative`` and ``neutral`` reviews of ~20 products from ~45 templates, lower-cased
  and tokenised (punctuation split off), 5 to 20 tokens.
* Negation flips the polarity of the adjective right after it: "the kettle is not reliable" is
  negative, "honestly , not bad at all" positive.
* Contrast: in "{A} , but {B}" and "{A} , not {B}" the label follows one side only, so
  "it is sturdy , not flimsy" (positive) and "it is flimsy , not sturdy" (negative) are the same bag
  of words with different labels. A bag-of-words model needs word bigrams to get these right.
* Neutral reviews are factual ("it arrived on tuesday in a grey box .") or balanced ("neither great
  nor terrible"); some contain a polar adjective.

Only ``random.Random(seed)`` is used, so a seed gives the same set on every run and Python version.
Splits are drawn independently from the same distribution (sentences may repeat across splits, as
short reviews do in real data).
"""

from __future__ import annotations

import random

LABELS = ("negative", "neutral", "positive")

PRODUCTS = ["phone", "laptop", "kettle", "blender", "toaster", "camera", "printer", "router", "keyboard",
            "mouse", "monitor", "speaker", "vacuum", "backpack", "jacket", "lamp", "watch", "tablet",
            "charger", "headset"]
POSITIVE = ["good", "great", "excellent", "reliable", "sturdy", "comfortable", "fast", "quiet", "solid",
            "brilliant", "impressive", "handy"]
NEGATIVE = ["bad", "terrible", "awful", "unreliable", "flimsy", "uncomfortable", "slow", "noisy", "broken",
            "disappointing", "useless", "cheap"]
INTENSIFIERS = ["", "", "", "very ", "really ", "quite ", "pretty ", "extremely "]
OPENERS = ["", "", "", "honestly , ", "overall , ", "in short , ", "i think "]
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
COLOURS = ["black", "white", "grey", "red", "blue", "green", "silver"]
PEOPLE = ["my brother", "my sister", "my father", "my mother", "a friend", "my office", "my son"]

# Slots: {P} product, {POS}/{NEG} adjective of that polarity (with an optional intensifier),
# {POSW}/{NEGW} a bare adjective, {DAY}, {COL}, {WHO}. The label is the template's.
TEMPLATES: dict[str, list[str]] = {
    "positive": [
        "the {P} is {POS} .",
        "this {P} is {POS} and {POSW} .",
        "i love this {P} , it is {POS} .",
        "a {POS} {P} for the price .",
        "the {P} works well and feels {POS} .",
        "would buy this {P} again , {POS} .",
        "the {P} is not {NEGW} at all .",  # negation flips a negative adjective
        "not {NEGW} , not {NEGW} , just {POSW} .",
        "i expected it to be {NEGW} , but it is {POS} .",  # contrast: the second clause decides
        "the {P} looks {NEGW} , but it is {POS} .",
        "it is {POSW} , not {NEGW} .",
        "the {P} is {POSW} , not {NEGW} .",
        "my old {P} was {NEGW} , this one is {POS} .",
        "five stars , the {P} is {POS} .",
        "nothing {NEGW} about this {P} .",
    ],
    "negative": [
        "the {P} is {NEG} .",
        "this {P} is {NEG} and {NEGW} .",
        "i hate this {P} , it is {NEG} .",
        "a {NEG} {P} for the price .",
        "the {P} stopped working and feels {NEG} .",
        "would never buy this {P} again , {NEG} .",
        "the {P} is not {POSW} at all .",  # negation flips a positive adjective
        "not {POSW} , not {POSW} , just {NEGW} .",
        "i expected it to be {POSW} , but it is {NEG} .",
        "the {P} looks {POSW} , but it is {NEG} .",
        "it is {NEGW} , not {POSW} .",
        "the {P} is {NEGW} , not {POSW} .",
        "my old {P} was {POSW} , this one is {NEG} .",
        "one star , the {P} is {NEG} .",
        "nothing {POSW} about this {P} .",
    ],
    "neutral": [
        "the {P} arrived on {DAY} .",
        "i bought this {P} for {WHO} on {DAY} .",
        "the {P} comes in {COL} and {COL} .",
        "it arrived in a {COL} box on {DAY} .",
        "the {P} is {COL} and about the size of a book .",
        "the {P} is neither {POSW} nor {NEGW} .",
        "the {P} is neither {NEGW} nor {POSW} .",
        "it is {POSW} in some ways and {NEGW} in others .",
        "some say the {P} is {POSW} , others say it is {NEGW} .",
        "i have not used the {P} yet .",
        "the {P} is a gift for {WHO} , so no opinion yet .",
        "does anyone know if the {P} comes in {COL} ?",
        "the manual says the {P} can be {POSW} if you update it .",
        "the {P} replaced the one {WHO} gave me .",
        "i returned the {P} because i ordered the wrong colour .",
    ],
}


def _fill(template: str, rng: random.Random) -> str:
    fillers = {
        "{P}": lambda: rng.choice(PRODUCTS),
        "{POS}": lambda: rng.choice(INTENSIFIERS) + rng.choice(POSITIVE),
        "{NEG}": lambda: rng.choice(INTENSIFIERS) + rng.choice(NEGATIVE),
        "{POSW}": lambda: rng.choice(POSITIVE),
        "{NEGW}": lambda: rng.choice(NEGATIVE),
        "{DAY}": lambda: rng.choice(DAYS),
        "{COL}": lambda: rng.choice(COLOURS),
        "{WHO}": lambda: rng.choice(PEOPLE),
    }
    words = []
    for word in template.split():
        words.append(fillers[word]() if word in fillers else word)
    return " ".join(words)


def _review(rng: random.Random) -> tuple[str, str]:
    label = rng.choice(LABELS)
    text = _fill(rng.choice(TEMPLATES[label]), rng)
    if label != "neutral":
        text = rng.choice(OPENERS) + text
    return text, label


def generate_toy_classification(
    seed: int = 0, num_train: int = 3000, num_val: int = 500, num_test: int = 500
) -> dict[str, list[tuple[str, str]]]:
    """``{"train": [(text, label), ...], "val": [...], "test": [...]}``; identical for identical arguments."""
    rng = random.Random(seed)
    return {split: [_review(rng) for _ in range(n)]
            for split, n in [("train", num_train), ("val", num_val), ("test", num_test)]}
