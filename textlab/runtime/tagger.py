"""``OnnxTagger``: an exported ``SequenceTagger`` with its Python prediction API (``predict``, ``tag_text``,
``tag_texts``), without torch. Text is cut and encoded by the functions the PyTorch model uses, the tags come
decoded and filtered from the ONNX graph, and the results are the same ``TaggedSentence`` and ``TaggedDocument``
objects, so their records equal ``textlab predict``'s."""

from __future__ import annotations

from textlab.data.plain_text import document_sentences
from textlab.data.prediction_batches import length_sorted_batches
from textlab.data.sentence import Sentence
from textlab.data.tagging_encoding import encode_sentence
from textlab.data.vocab import TaggingVocab
from textlab.results import TaggedDocument, TaggedSentence
from textlab.runtime.arrays import tagging_arrays
from textlab.runtime.exported import ExportedModel


class OnnxTagger:
    """Tags text with an exported tagger; safe to call from several threads at once (an onnxruntime session is)."""

    def __init__(self, exported: ExportedModel) -> None:
        self.exported = exported
        self.vocab = TaggingVocab.from_dict(exported.manifest["vocab"])
        self.tags = self.vocab.tags.itos

    def tag_batch(self, sentences: list[Sentence]) -> list[TaggedSentence]:
        """One batch of non-empty sentences, tagged."""
        encoded = [encode_sentence(s, self.vocab) for s in sentences]
        arrays = tagging_arrays(encoded)
        paths = self.exported.run("tags", arrays)  # (B, T) tag ids, 0 past each sentence's end
        return [TaggedSentence.from_tags(s.tokens, [self.tags[i] for i in path[:n]], origin=s.origin)
                for s, path, n in zip(sentences, paths.tolist(), arrays["lengths"].tolist())]

    def _tag_sentences(self, sentences: list[Sentence], batch_size: int) -> list[TaggedSentence]:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        results: list = [None] * len(sentences)
        # the batches TextModel.predict_texts makes: sorted by length, a very long sentence in a batch of its own
        for part in length_sorted_batches([len(s.tokens) for s in sentences], batch_size):
            for i, result in zip(part, self.tag_batch([sentences[i] for i in part])):
                results[i] = result
        return results

    def predict(self, sentences: list[str] | list[list[str]], batch_size: int = 64) -> list[TaggedSentence]:
        """Tag sentences: strings (split on whitespace) or token lists. Empty sentences give empty results."""
        if isinstance(sentences, str):  # iterating it would tag each character as a sentence
            raise TypeError("predict takes a list of sentences (strings or token lists), not a string: predict([text])")
        token_lists = [s.split() if isinstance(s, str) else list(s) for s in sentences]
        todo = [i for i, tokens in enumerate(token_lists) if tokens]
        tagged = self._tag_sentences([Sentence(token_lists[i]) for i in todo], batch_size)
        results = [TaggedSentence([], [], []) for _ in token_lists]
        for i, result in zip(todo, tagged):
            results[i] = result
        return results

    def tag_text(self, text: str) -> TaggedDocument:
        """Tag a document given as plain text, cut into sentences and tokens as the model was set up to (its
        ``tokenizer``); each entity with ``start_char``/``end_char`` into ``text``."""
        return self.tag_texts([text])[0]

    def tag_texts(self, texts: list[str], batch_size: int = 64) -> list[TaggedDocument]:
        """``tag_text`` for several documents, their sentences batched together."""
        if isinstance(texts, str):  # iterating it would tag each character as a document
            raise TypeError("tag_texts takes a list of documents, not a string: tag_text(text) or tag_texts([text])")
        documents = [list(document_sentences(text, self.vocab.tokenizer, i)) for i, text in enumerate(texts)]
        tagged = iter(self._tag_sentences([s for sentences in documents for s in sentences], batch_size))
        return [TaggedDocument(text, [next(tagged) for _ in sentences]) for text, sentences in zip(texts, documents)]
