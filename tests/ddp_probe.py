"""A callback the DDP test adds on the command line: each process records what it trains with."""

import hashlib
import json
import os

from lightning.pytorch import Callback


class RecordVocabulary(Callback):
    def on_fit_start(self, trainer, pl_module):
        digest = hashlib.sha256(json.dumps(pl_module.hparams["vocab"], sort_keys=True).encode()).hexdigest()
        with open(os.path.join(os.environ["TEXTLAB_PROBE_DIR"], f"rank{trainer.global_rank}.json"), "w") as f:
            json.dump({"vocab": digest, "world_size": trainer.world_size, "threads": __import__("torch").get_num_threads()}, f)
