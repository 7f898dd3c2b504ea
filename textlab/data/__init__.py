from textlab.data.tagging import TaggingDataModule, ToyNERDataModule

__all__ = ["TaggingDataModule", "ToyNERDataModule"]
