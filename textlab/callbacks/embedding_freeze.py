"""Keep the (pretrained) word embeddings frozen at first, optionally unfreezing them after N epochs."""

from __future__ import annotations

from lightning.pytorch.callbacks import BaseFinetuning


class FreezeWordEmbeddings(BaseFinetuning):
    def __init__(self, unfreeze_at_epoch: int | None = None) -> None:
        """
        Args:
            unfreeze_at_epoch: the epoch (0-based) at which the word embeddings join training;
                None keeps them frozen for the whole run.
        """
        super().__init__()
        self.unfreeze_at_epoch = unfreeze_at_epoch

    def freeze_before_training(self, pl_module) -> None:
        self.freeze(pl_module.embedder.words)

    def finetune_function(self, pl_module, current_epoch: int, optimizer) -> None:
        if current_epoch == self.unfreeze_at_epoch:
            # initial_denom_lr=1: the embeddings train at the same learning rate as the rest of the model
            self.unfreeze_and_add_param_group(pl_module.embedder.words, optimizer, initial_denom_lr=1.0)
