"""Hugging Face datasets as the data modules' ``hub`` part: a hub name, or a folder written by ``save_to_disk``."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import cached_property

from textlab.data.classification_readers import Example, check_label, check_text
from textlab.data.sentence import Sentence
from textlab.errors import DataFormatError, TextlabError

log = logging.getLogger("textlab")

# the names Hugging Face datasets give their splits
HF_SPLITS = {"train": ("train",), "val": ("validation", "valid", "dev"), "test": ("test",)}


class HubUnavailable(TextlabError):
    """The dataset could not be loaded; the data module says what else it looked for."""


@dataclass
class HubDataset:
    """A Hugging Face dataset (base of the tagging and classification ones).

    Args:
        name: a dataset name on the hub (or in the local cache), or a folder written by ``save_to_disk``.
        config: the dataset's configuration name, if it has several.
    """

    name: str
    config: str | None = None

    @cached_property
    def dataset(self):
        import datasets

        try:
            if os.path.isdir(self.name):
                return datasets.load_from_disk(self.name)
            return datasets.load_dataset(self.name, self.config)
        except Exception as e:  # offline, unknown name, bad files: datasets raises many kinds
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise HubUnavailable(reason) from None

    def split(self, split: str):
        """The dataset's part for ``split`` and its name for messages; None if it has none."""
        names = [n for n in HF_SPLITS[split] if n in self.dataset]
        if not names:
            if split == "train":
                raise TextlabError(f"Hugging Face dataset {self.name!r} has no train split")
            return None
        return self.dataset[names[0]], f"{self.name}[{names[0]}]"

    @staticmethod
    def check_columns(part, where: str, columns: tuple[str, ...], hint: str = "") -> None:
        for column in columns:
            if column not in part.column_names:
                raise TextlabError(f"{where}: no column {column!r} (columns: {', '.join(part.column_names)}){hint}")


@dataclass
class TaggingHub(HubDataset):
    """A Hugging Face dataset of token and tag lists; used for the splits no CoNLL file is given or found for.

    Args:
        name: a dataset name on the hub (or in the local cache), or a folder written by ``save_to_disk``.
        config: the dataset's configuration name, if it has several.
        tokens_column: the dataset's column of token lists.
        tags_column: the dataset's column of tag lists (a ClassLabel sequence, or strings).
    """

    tokens_column: str = "tokens"
    tags_column: str = "ner_tags"

    def sentences(self, split: str) -> tuple[list[Sentence], str]:
        """The split's sentences (tags as found) and its name; ``([], "")`` if the dataset has no such split."""
        found = self.split(split)
        if found is None:
            return [], ""
        part, where = found
        self.check_columns(part, where, (self.tokens_column, self.tags_column))
        feature = part.features[self.tags_column]
        label_names = getattr(getattr(feature, "feature", None), "names", None)
        sentences = []
        for i, row in enumerate(part):
            tokens, tags = row[self.tokens_column], row[self.tags_column]
            if tags and isinstance(tags[0], int):
                if label_names is None:
                    raise DataFormatError(where, i + 1, f"{self.tags_column!r} holds numbers but no ClassLabel names")
                tags = [label_names[t] for t in tags]
            if len(tags) != len(tokens):
                raise DataFormatError(where, i + 1, "expected as many tags as tokens")
            if tokens:
                sentences.append(Sentence(list(tokens), list(tags), line=i + 1))
        return sentences, where


@dataclass
class ClassificationHub(HubDataset):
    """A Hugging Face dataset of texts and labels; used for the splits no file is given or found for.

    Args:
        name: a dataset name on the hub (or in the local cache), or a folder written by ``save_to_disk``.
        config: the dataset's configuration name, if it has several.
        text_column: the dataset's column holding the text.
        label_column: the column holding the label (a ClassLabel, a string or an integer).
    """

    text_column: str = "text"
    label_column: str = "label"

    def examples(self, split: str) -> list[Example] | None:
        """The split's examples; None if the dataset has no such split, or leaves it unlabelled."""
        found = self.split(split)
        if found is None:
            return None
        part, where = found
        self.check_columns(part, where, (self.text_column, self.label_column),
                           "; pass --data.hub.text_column / --data.hub.label_column")
        label_names = getattr(part.features[self.label_column], "names", None)
        labels = part[self.label_column]
        # -1 is how datasets marks a missing ClassLabel: GLUE and SST-2 ship their test splits that way
        if label_names is not None and labels and all(label == -1 for label in labels):
            if split == "train":
                raise TextlabError(f"{where}: every label is -1 (unlabelled): training needs labelled texts")
            log.info("%s: every label is -1 (unlabelled): not used for %s", where,
                     "validation" if split == "val" else "the test")
            return None
        examples = []
        for i, (text, label) in enumerate(zip(part[self.text_column], labels), start=1):
            text = check_text(text, where, i, self.text_column)
            if label_names is not None and isinstance(label, int):
                if label == -1:
                    raise DataFormatError(where, i, "label -1 (unlabelled) in a split with labels: label every row "
                                                    "or none (an unlabelled split is left out)")
                if not 0 <= label < len(label_names):
                    raise DataFormatError(where, i, f"label {label} is not a class of {self.label_column!r}")
                label = label_names[label]
            examples.append(Example(text, check_label(label, where, i, self.label_column), where, i))
        if split == "train" and not examples:
            raise TextlabError(f"{where}: no training examples: the split is empty")
        return examples
