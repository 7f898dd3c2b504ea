"""A callback the DDP test adds on the command line: each process records what it trains with, and
whether its process group is still open when the interpreter begins to exit."""

import atexit
import hashlib
import json
import os

from lightning.pytorch import Callback


class RecordVocabulary(Callback):
    def on_fit_start(self, trainer, pl_module):
        digest = hashlib.sha256(json.dumps(pl_module.hparams["vocab"], sort_keys=True).encode()).hexdigest()
        with open(os.path.join(os.environ["TEXTLAB_PROBE_DIR"], f"rank{trainer.global_rank}.json"), "w") as f:
            json.dump({"vocab": digest, "world_size": trainer.world_size, "threads": __import__("torch").get_num_threads()}, f)
        atexit.register(_record_open_process_group, trainer.global_rank)


def _record_open_process_group(rank: int) -> None:
    import torch.distributed as dist

    with open(os.path.join(os.environ["TEXTLAB_PROBE_DIR"], f"rank{rank}-at-exit.json"), "w") as f:
        json.dump({"process_group_open": dist.is_initialized()}, f)
