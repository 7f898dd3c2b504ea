"""A corpus encoded once into Arrow files that every process on a node memory-maps.

For corpora too large to hold as Python lists in each of N processes: the first process to get the
lock streams the files, writes the vocabularies (JSON) and each encoded split (an Arrow file written
by ``datasets``' own ArrowWriter); every other process - and every later run with the same files and
options - finds them and maps them read-only, so the operating system keeps one copy in memory.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from itertools import islice

import datasets
from datasets.arrow_writer import ArrowWriter
from filelock import FileLock

from textlab.data.tagging_batch import EncodedSentence

FEATURES = datasets.Features(
    {
        "tokens": datasets.Sequence(datasets.Value("string")),
        "words": datasets.Sequence(datasets.Value("int32")),
        "chars": datasets.Sequence(datasets.Sequence(datasets.Value("int32"))),
        "casing": datasets.Sequence(datasets.Value("int8")),
        "tags": datasets.Sequence(datasets.Value("int16")),
        "n_tokens": datasets.Value("int32"),  # the sampler reads lengths without touching the rest
    }
)
WRITE_BATCH = 10_000


class CorpusCache:
    def __init__(self, cache_dir: str, key: dict) -> None:
        """``key`` names everything the cached files depend on (sources, their sizes and times, options)."""
        digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
        self.dir = os.path.join(cache_dir, digest)
        os.makedirs(self.dir, exist_ok=True)
        # Every process of every run on this node takes the same lock: one builds, the others wait and read.
        self.lock = FileLock(self.dir + ".lock")

    def vocab(self, build: Callable[[], dict]) -> dict:
        path = os.path.join(self.dir, "vocab.json")
        with self.lock:
            if not os.path.exists(path):
                _write_atomically(path, lambda tmp: open(tmp, "w").write(json.dumps(build())))
        with open(path) as f:
            return json.load(f)

    def split(self, name: str, encode: Callable[[], Iterable[EncodedSentence]]) -> datasets.Dataset:
        path = os.path.join(self.dir, f"{name}.arrow")
        with self.lock:
            if not os.path.exists(path):
                _write_atomically(path, lambda tmp: _write_arrow(tmp, encode()))
        return datasets.Dataset.from_file(path)  # memory-mapped, not read into memory


def _write_arrow(path: str, sentences: Iterable[EncodedSentence]) -> None:
    with ArrowWriter(features=FEATURES, path=path) as writer:
        it = iter(sentences)
        while chunk := list(islice(it, WRITE_BATCH)):
            writer.write_batch(
                {
                    "tokens": [s.tokens for s in chunk],
                    "words": [s.words for s in chunk],
                    "chars": [s.chars for s in chunk],
                    "casing": [s.casing for s in chunk],
                    "tags": [s.tags for s in chunk],
                    "n_tokens": [len(s.words) for s in chunk],
                }
            )
        writer.finalize()


def _write_atomically(path: str, write: Callable[[str], object]) -> None:
    """A killed run leaves a ``.partial`` file behind, never a truncated file under the real name."""
    tmp = path + ".partial"
    write(tmp)
    os.replace(tmp, path)
