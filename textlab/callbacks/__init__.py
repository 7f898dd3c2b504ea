from textlab.callbacks.embedding_freeze import FreezeWordEmbeddings
from textlab.callbacks.tail_averaging import TailWeightAveraging

__all__ = ["FreezeWordEmbeddings", "TailWeightAveraging"]
