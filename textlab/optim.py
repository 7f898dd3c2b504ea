"""Learning-rate schedules that torch does not ship."""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


class InverseTimeDecay(LambdaLR):
    """lr_t = lr_0 / (1 + decay * t), t counted in epochs: the schedule of Ma & Hovy (2016) and NCRF++.

    torch has no such scheduler; LambdaLR needs a function, which a YAML config cannot hold.
    """

    def __init__(self, optimizer: Optimizer, decay: float = 0.05, last_epoch: int = -1) -> None:
        self.decay = decay
        super().__init__(optimizer, self._factor, last_epoch=last_epoch)

    def _factor(self, epoch: int) -> float:
        return 1.0 / (1.0 + self.decay * epoch)
