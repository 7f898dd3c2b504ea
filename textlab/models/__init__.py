from textlab.models.tagger import SequenceTagger

__all__ = ["SequenceTagger"]
