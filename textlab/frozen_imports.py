"""Keep what the imports made out of Python's cyclic garbage collector.

Importing torch, Lightning and their libraries leaves about 400,000 objects that the collector tracks (functions,
tuples, dicts) and that live as long as the process. A full collection walks all of them: 200 ms on these
machines, in a process that had loaded the CoNLL model and tagged its test set (411,000 objects). Tagging in a
loop (the speed benchmark), one came about every 5 seconds and added about 0.3 s to the run it fell in; a server
would answer the request it fell in that much later. ``gc.freeze`` moves the objects that exist now into a
generation the collector never walks. They are still freed as usual when nothing refers to them; only cycles
among them would not be collected, and module-level objects form none that die. CPython's documentation advises
it for a process's long-lived start-up state.
"""

from __future__ import annotations

import gc


def freeze_imported_objects() -> None:
    """Collect what is garbage now, then freeze the rest (``gc.freeze``): call once the imports are done."""
    gc.collect()
    gc.freeze()
