"""Optimisers and learning-rate schedules built from the config, and the schedule torch does not ship."""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from textlab.errors import TextlabError

Built = TypeVar("Built")


def build(factory: Callable[[Any], Built], argument: Any, what: str) -> Built:
    """``factory(argument)``, where torch's refusal of a configured value (a negative learning rate, a
    plateau factor of 2) becomes textlab's one-line error. LightningCLI hands optimisers and schedulers to
    the model as callables, so such a value first fails here, once training starts."""
    try:
        return factory(argument)
    except ValueError as error:
        raise TextlabError(f"invalid {what} setting: {error}") from None


class InverseTimeDecay(LambdaLR):
    """lr_t = lr_0 / (1 + decay * t), t counted in epochs: the schedule of Ma & Hovy (2016) and NCRF++.

    torch has no such scheduler; LambdaLR needs a function, which a YAML config cannot hold.
    """

    def __init__(self, optimizer: Optimizer, decay: float = 0.05, last_epoch: int = -1) -> None:
        self.decay = decay
        super().__init__(optimizer, self._factor, last_epoch=last_epoch)

    def _factor(self, epoch: int) -> float:
        return 1.0 / (1.0 + self.decay * epoch)
