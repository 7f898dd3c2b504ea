from textlab.callbacks.embedding_freeze import FreezeWordEmbeddings
from textlab.callbacks.evaluation_report import EvaluationReport
from textlab.callbacks.learning_curves import LearningCurves
from textlab.callbacks.tail_averaging import TailWeightAveraging

__all__ = ["EvaluationReport", "FreezeWordEmbeddings", "LearningCurves", "TailWeightAveraging"]
