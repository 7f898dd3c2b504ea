from textlab.data.classification import ClassificationDataModule, ToyClassificationDataModule
from textlab.data.hub import ClassificationHub, TaggingHub
from textlab.data.sources import ClassFiles, ConllFiles, LabelledFiles
from textlab.data.splits import Splits
from textlab.data.tagging import TaggingDataModule, ToyNERDataModule
from textlab.data.vocab import ClassificationWords, Words

__all__ = [
    "ClassFiles", "ClassificationDataModule", "ClassificationHub", "ClassificationWords", "ConllFiles",
    "LabelledFiles", "Splits", "TaggingDataModule", "TaggingHub", "ToyClassificationDataModule", "ToyNERDataModule",
    "Words",
]
