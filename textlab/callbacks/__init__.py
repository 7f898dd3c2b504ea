from textlab.callbacks.embedding_freeze import FreezeWordEmbeddings

__all__ = ["FreezeWordEmbeddings"]
