from textlab.data.classification import ClassificationDataModule, ToyClassificationDataModule
from textlab.data.tagging import TaggingDataModule, ToyNERDataModule

__all__ = ["ClassificationDataModule", "TaggingDataModule", "ToyClassificationDataModule", "ToyNERDataModule"]
