"""Keep the (pretrained) word embeddings frozen at first, optionally unfreezing them after N epochs."""

from __future__ import annotations

import logging

from lightning.pytorch.callbacks import BaseFinetuning

from textlab.errors import TextlabError

log = logging.getLogger("textlab")


class FreezeWordEmbeddings(BaseFinetuning):
    def __init__(self, unfreeze_at_epoch: int | None = None) -> None:
        """
        Args:
            unfreeze_at_epoch: the epoch (0-based) at which the word embeddings join training;
                None keeps them frozen for the whole run.
        """
        super().__init__()
        # epochs count from 0: a negative one never comes, and the embeddings would stay frozen without a word
        if unfreeze_at_epoch is not None and unfreeze_at_epoch < 0:
            raise TextlabError(f"FreezeWordEmbeddings: unfreeze_at_epoch must be an epoch (0 or more) or null "
                               f"(frozen for the whole run), not {unfreeze_at_epoch}")
        self.unfreeze_at_epoch = unfreeze_at_epoch

    def freeze_before_training(self, pl_module) -> None:
        self.freeze(pl_module.embedder.words)

    def setup(self, trainer, pl_module, stage: str) -> None:
        if stage == "fit":
            self._check_model(pl_module)
            last = trainer.max_epochs
            if self.unfreeze_at_epoch is not None and last is not None and last >= 0 and self.unfreeze_at_epoch >= last:
                # harmless (frozen for the whole run, as null), and a short trial run of a long recipe meets it
                log.warning("FreezeWordEmbeddings: unfreeze_at_epoch %d (counted from 0) comes after the last epoch of "
                            "--trainer.max_epochs %d: the word embeddings stay frozen for the whole run",
                            self.unfreeze_at_epoch, last)
        # DDP registers for gradient averaging only the parameters that train when it wraps the model,
        # so embeddings unfrozen later would train on each process's own gradients and drift apart
        # silently (Lightning issue #20340, open). Frozen for the whole run is fine.
        if self.unfreeze_at_epoch is not None and trainer.world_size > 1:
            raise TextlabError(
                f"FreezeWordEmbeddings(unfreeze_at_epoch={self.unfreeze_at_epoch}) does not work on several "
                f"processes ({trainer.world_size}): DDP would never average the unfrozen embeddings' gradients; "
                "keep them frozen for the whole run (unfreeze_at_epoch null) or train on one process")
        super().setup(trainer, pl_module, stage)

    def _check_model(self, pl_module) -> None:
        if getattr(pl_module, "embedder", None) is None:  # the classifier's NgramBag has no separate word embeddings
            raise TextlabError("FreezeWordEmbeddings freezes the word embeddings of a tagger or of a TextCNN or "
                               "PooledRNN classifier; an NgramBag's rows hold its n-grams too: remove the callback")
        # Frozen random vectors are no starting point worth keeping: a user who froze them meant pretrained ones.
        # A warning, not an error: the model still learns (characters, extra_dim), and tests freeze random
        # vectors to watch the mechanism.
        if not pl_module.pretrained_parts():
            log.warning("FreezeWordEmbeddings keeps the pretrained word vectors as loaded, and the model loads none "
                        "(its word part's pretrained is null): it freezes random vectors; set pretrained, or remove "
                        "the callback")
        if getattr(pl_module.embedder, "mode", None) == "static" and self.unfreeze_at_epoch is not None:
            raise TextlabError(f"FreezeWordEmbeddings(unfreeze_at_epoch={self.unfreeze_at_epoch}) would train the "
                               "word vectors that mode static keeps frozen: choose mode non-static, or "
                               "unfreeze_at_epoch null")

    def on_fit_start(self, trainer, pl_module) -> None:
        super().on_fit_start(trainer, pl_module)  # a resumed run gets back the groups added before its checkpoint
        for optimizer in trainer.optimizers:  # and its schedulers must know them before their state is loaded
            schedule_new_param_groups(trainer, optimizer)
            # Lightning gives back the group but not requires_grad, which freeze_before_training took away again:
            # a run resumed after the unfreeze would train everything but the embeddings, without a word
            if _in_optimizer(pl_module.embedder.words, optimizer):
                self.make_trainable(pl_module.embedder.words)

    def finetune_function(self, pl_module, current_epoch: int, optimizer) -> None:
        # a run resumed within the unfreeze epoch has the group already
        if current_epoch == self.unfreeze_at_epoch and not _in_optimizer(pl_module.embedder.words, optimizer):
            # initial_denom_lr=1: the embeddings train at the same learning rate as the rest of the model
            self.unfreeze_and_add_param_group(pl_module.embedder.words, optimizer, initial_denom_lr=1.0)
            schedule_new_param_groups(pl_module.trainer, optimizer)


def _in_optimizer(module, optimizer) -> bool:
    trained = {id(p) for group in optimizer.param_groups for p in group["params"]}
    return any(id(p) in trained for p in module.parameters())


def schedule_new_param_groups(trainer, optimizer) -> None:
    """Make the schedulers built with the optimizer also drive the groups added to it since.

    A scheduler such as LambdaLR (and our InverseTimeDecay) keeps one base lr and one factor per group
    it saw at construction and zips them with the optimizer's groups: torch 2.13 then fails at the next
    step (zip strict), older versions left the new group at its first lr (Lightning issue #12141, closed
    as won't fix). Each new group gets the first group's entries, which is what `initial_denom_lr=1`
    asks for.
    """
    groups = len(optimizer.param_groups)
    for config in trainer.lr_scheduler_configs:
        scheduler = config.scheduler
        if scheduler.optimizer is not optimizer:
            continue
        for name in ("base_lrs", "lr_lambdas", "min_lrs", "_last_lr"):
            entries = getattr(scheduler, name, None)
            if isinstance(entries, list) and 0 < len(entries) < groups:
                entries.extend(entries[:1] * (groups - len(entries)))
    first = optimizer.param_groups[0]
    if "initial_lr" in first:  # set by schedulers at construction; a new group lacks it
        for group in optimizer.param_groups[1:]:
            group.setdefault("initial_lr", first["initial_lr"])
