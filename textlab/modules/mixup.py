"""Mixup for sentence classification (Zhang et al. 2018; Guo, Mao & Zhang 2019): train on convex
combinations of two texts' vectors with the same combination of their labels.

``word`` mixes the token vectors (B, T, D) before the encoder, ``sentence`` the text vectors (B, D)
after it. One ``lam`` ~ Beta(alpha, alpha) per batch, and each text is mixed with another of the same
batch (a random permutation), as in the original recipe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

MixupLevel = Literal["none", "word", "sentence"]


@dataclass
class Mixup:
    level: MixupLevel
    lam: float  # the weight of each text itself; 1 - lam goes to its partner
    partner: torch.Tensor  # (B,) the index of the text each one is mixed with

    @classmethod
    def draw(cls, level: MixupLevel, alpha: float, batch_size: int, device: torch.device) -> "Mixup":
        """A batch's mixing: from torch's global generator, so seeding the run makes it repeatable."""
        lam = float(torch.distributions.Beta(alpha, alpha).sample())
        return cls(level, lam, torch.randperm(batch_size, device=device))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """(B, ...) -> (B, ...): each row mixed with its partner's."""
        return self.lam * x + (1.0 - self.lam) * x[self.partner]

    def loss(self, logits: torch.Tensor, labels: torch.Tensor, **cross_entropy) -> torch.Tensor:
        """The cross-entropy against the same mixture of the two texts' labels."""
        return (self.lam * F.cross_entropy(logits, labels, **cross_entropy)
                + (1.0 - self.lam) * F.cross_entropy(logits, labels[self.partner], **cross_entropy))
