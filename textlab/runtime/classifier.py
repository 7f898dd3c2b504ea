"""``OnnxClassifier``: an exported ``TextClassifier`` with its Python prediction API (``predict``), without torch.
Texts are tokenised and encoded by the functions the PyTorch model uses, the graph gives each label's probability,
and the results are the same ``Classification`` objects, so their records equal ``textlab predict``'s."""

from __future__ import annotations

from textlab.data.classification_encoding import EncodedExample, encode_example
from textlab.data.prediction_batches import length_sorted_batches
from textlab.data.vocab import ClassificationVocab
from textlab.results import Classification
from textlab.runtime.arrays import classification_arrays
from textlab.runtime.exported import ExportedModel


class OnnxClassifier:
    """Classifies texts with an exported classifier; safe to call from several threads at once."""

    def __init__(self, exported: ExportedModel) -> None:
        self.exported = exported
        self.vocab = ClassificationVocab.from_dict(exported.manifest["vocab"])
        self.labels = self.vocab.labels.itos

    def encode(self, text: str, text_id=None) -> EncodedExample:
        return encode_example(text, None, self.vocab, text_id)

    def classify_batch(self, examples: list[EncodedExample]) -> list[Classification]:
        """One batch of encoded texts, classified."""
        probabilities = self.exported.run("probabilities", classification_arrays(examples))  # (B, C)
        results = []
        for example, row in zip(examples, probabilities.tolist()):
            best = max(range(len(row)), key=row.__getitem__)  # the first of equals, as torch's argmax
            results.append(Classification(self.labels[best], dict(zip(self.labels, row)), example.text, example.id))
        return results

    def predict(self, texts: list[str], batch_size: int = 64) -> list[Classification]:
        """Classify raw texts (tokenised as in training), with every label's probability. An empty text is
        classified as one unknown word."""
        if isinstance(texts, str):  # iterating it would classify each character as a text
            raise TypeError("predict takes a list of texts, not a string: predict([text])")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        encoded = [self.encode(t) for t in texts]
        results: list = [None] * len(encoded)
        for part in length_sorted_batches([len(e.words) for e in encoded], batch_size):
            for i, result in zip(part, self.classify_batch([encoded[i] for i in part])):
                results[i] = result
        return results
