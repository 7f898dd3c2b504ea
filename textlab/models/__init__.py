from textlab.models.classifier import TextClassifier
from textlab.models.tagger import SequenceTagger

__all__ = ["SequenceTagger", "TextClassifier"]
