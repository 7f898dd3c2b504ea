"""The parts a model is built from, each a plain ``nn.Module`` that reports its ``output_dim``.

Configs choose them by ``class_path`` (e.g. ``textlab.modules.CharCNN``) with their own ``init_args``; the
model calls each with the sizes only known once the vocabulary is built (vocabulary size, input width).
"""

from textlab.modules.char_encoders import CharCNN, CharCNNandLSTM, CharLSTM
from textlab.modules.crf import CRFDecoder, SoftmaxDecoder
from textlab.modules.embedders import WordEmbeddings
from textlab.modules.encoders import RNNEncoder
from textlab.modules.ngram_bags import NgramBag, NgramLogisticRegression
from textlab.modules.text_encoders import PooledRNN, TextCNN
from textlab.modules.word_channels import WordChannels

__all__ = [
    "CharCNN", "CharCNNandLSTM", "CharLSTM", "CRFDecoder", "SoftmaxDecoder", "WordEmbeddings", "RNNEncoder",
    "NgramBag", "NgramLogisticRegression", "PooledRNN", "TextCNN", "WordChannels",
]
