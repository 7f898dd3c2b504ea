"""Tag decoders: a linear-chain CRF (pytorch-crf) with constrained batched Viterbi, and a softmax.

The CRF's constraints (never ``O -> I-PER``) always act in Viterbi when on, and optionally in training
(``constrained_training``: the loss's normaliser then sums over allowed paths only).

Both take emissions (B, T, K) and a bool mask (B, T) whose True entries are left-aligned, and offer
``loss(emissions, tags, mask)`` (a mean, so its scale does not depend on the batch size) and
``decode(emissions, mask) -> (B, T)`` tag ids (0 on padding), and ``lattice(emissions)``, the transition
scores that decoding uses, for the probabilities of ``textlab.modules.tag_lattice``.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
import torchcrf
from torch import nn

from textlab.errors import TextlabError


def _split(tag: str) -> tuple[str, str | None]:
    return (tag, None) if tag == "O" or "-" not in tag else (tag[0], tag[2:])


def allowed_transitions(scheme: str, tags: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Which tag may follow which under ``scheme`` (IOB2 or BIOES), e.g. never ``O -> I-PER``.

    Returns bool tensors ``(allowed[K, K], allowed_start[K], allowed_end[K])`` with ``allowed[i, j]``
    true when tag j may follow tag i.
    """
    if scheme not in ("IOB2", "BIOES"):
        raise ValueError(f"constrained decoding needs tag scheme IOB2 or BIOES, not {scheme!r}")
    parts = [_split(t) for t in tags]
    inside = {"IOB2": ("I",), "BIOES": ("I", "E")}[scheme]  # prefixes that continue an entity
    closes = {"IOB2": ("O", "B", "I"), "BIOES": ("O", "E", "S")}[scheme]  # prefixes after which one may stop

    def may_follow(prev: tuple[str, str | None], nxt: tuple[str, str | None]) -> bool:
        (p, ptype), (n, ntype) = prev, nxt
        if n in inside:  # continuing: only from the same entity, and only if it is still open
            open_prefixes = ("B", "I")
            return p in open_prefixes and ptype == ntype
        # starting something new (O, B, S): only once the previous entity is closed
        return p in closes

    allowed = torch.tensor([[may_follow(a, b) for b in parts] for a in parts], dtype=torch.bool)
    start = torch.tensor([p not in inside for p, _ in parts], dtype=torch.bool)
    end = torch.tensor([p in closes for p, _ in parts], dtype=torch.bool)
    return allowed, start, end


def viterbi_decode(
    emissions: torch.Tensor, mask: torch.Tensor, transitions: torch.Tensor, start: torch.Tensor, end: torch.Tensor
) -> torch.Tensor:
    """Best tag sequence for every sentence at once: a loop over time, vectorised over the batch
    (pytorch-crf's own decode backtracks one sentence at a time in Python and returns lists)."""
    B, T, K = emissions.shape
    score = start + emissions[:, 0]  # (B, K)
    history = []
    for t in range(1, T):
        # candidate[b, i, j]: best path ending in tag i at t-1, then tag j at t
        candidate = score[:, :, None] + transitions[None] + emissions[:, t, None, :]  # (B, K, K)
        best, best_prev = candidate.max(dim=1)  # (B, K)
        score = torch.where(mask[:, t, None], best, score)  # padding keeps the finished sentence's score
        history.append(best_prev)
    last = (score + end).argmax(dim=-1)  # (B,)
    lengths = mask.sum(dim=1)
    path = torch.zeros(B, T, dtype=torch.long, device=emissions.device)
    current = last
    for t in range(T - 1, -1, -1):
        inside = t < lengths
        path[:, t] = torch.where(inside, current, torch.zeros_like(current))
        if t > 0:
            previous = history[t - 1].gather(1, current[:, None]).squeeze(1)
            current = torch.where(inside, previous, current)
    return path  # (B, T)


class CRFDecoder(nn.Module):
    """pytorch-crf's CRF for the loss; constrained batched Viterbi to decode.

    Everything runs in float32 with autocast off: the forward algorithm's log-sum-exp loses too much
    in half precision.
    """

    def __init__(self, tags: list[str], scheme: str, constrained: bool = True, constrained_training: bool = False) -> None:
        super().__init__()
        if constrained_training and not constrained:
            # the forbidden transitions never get a gradient, so unconstrained decoding would use their random init
            raise TextlabError("constrained_training needs constrained_decoding: a CRF trained on the allowed "
                               "transitions only has not learnt the forbidden ones")
        self.crf = torchcrf.CRF(len(tags), batch_first=True)
        self.constrained_training = constrained_training
        allowed, start, end = allowed_transitions(scheme, tags) if constrained else (None, None, None)
        K = len(tags)
        # Not persistent: the masks follow from the tags and the `constrained` argument, so a checkpoint
        # can be decoded either way (`textlab test --ckpt_path C --model.constrained_decoding false`).
        self.register_buffer("allowed", allowed if constrained else torch.ones(K, K, dtype=torch.bool),
                             persistent=False)
        self.register_buffer("allowed_start", start if constrained else torch.ones(K, dtype=torch.bool),
                             persistent=False)
        self.register_buffer("allowed_end", end if constrained else torch.ones(K, dtype=torch.bool),
                             persistent=False)
        self.register_load_state_dict_pre_hook(self._drop_stored_masks)

    @staticmethod
    def _drop_stored_masks(module, state_dict, prefix, *args) -> None:
        # Checkpoints written before the masks became non-persistent still hold them.
        for name in ("allowed", "allowed_start", "allowed_end"):
            state_dict.pop(prefix + name, None)

    def loss(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        with torch.autocast(emissions.device.type, enabled=False):
            args, kwargs = (emissions.float(), tags), dict(mask=mask, reduction="mean")
            if self.constrained_training:
                # pytorch-crf's own forward algorithm, with the forbidden transitions scored -1e4: the
                # normaliser then sums over allowed paths only. Not -inf: pytorch-crf multiplies transitions
                # into padded positions (tag 0 there, whichever tag that is) by a 0 mask, and -inf * 0 is nan.
                nll = -torch.func.functional_call(self.crf, self._masked_transitions(-1e4), args, kwargs)
            else:
                nll = -self.crf(*args, **kwargs)
        # A batch of one-token sentences (bucketing groups them: CoNLL has hundreds) never reaches
        # pytorch-crf's transition matrix, so it gets no gradient. Under DDP the rank holding such a batch
        # then never all-reduces that parameter's bucket while the other ranks wait for it: training hangs.
        # Adding it times zero keeps it in every step's graph there. Only there: in one process a zero
        # gradient is not the same as none, since SGD's momentum still moves a parameter with a zero
        # gradient and skips one without: added everywhere, the term changed single-process CoNLL runs
        # within their first 200 steps (README, "A change of arithmetic").
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            nll = nll + 0.0 * self.crf.transitions.sum()
        return nll

    def _masked_transitions(self, forbidden: float = float("-inf")) -> dict[str, torch.Tensor]:
        return {
            "transitions": self.crf.transitions.float().masked_fill(~self.allowed, forbidden),
            "start_transitions": self.crf.start_transitions.float().masked_fill(~self.allowed_start, forbidden),
            "end_transitions": self.crf.end_transitions.float().masked_fill(~self.allowed_end, forbidden),
        }

    def lattice(self, emissions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The (transitions, start, end) scores decoding uses, forbidden ones at -inf (``textlab.modules.tag_lattice``)."""
        masked = self._masked_transitions()
        return masked["transitions"], masked["start_transitions"], masked["end_transitions"]

    @torch.no_grad()
    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        with torch.autocast(emissions.device.type, enabled=False):
            masked = self._masked_transitions()
            return viterbi_decode(emissions.float(), mask, masked["transitions"], masked["start_transitions"],
                                  masked["end_transitions"])


class SoftmaxDecoder(nn.Module):
    """Independent per-token softmax: token-mean cross-entropy, argmax decoding."""

    def loss(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        with torch.autocast(emissions.device.type, enabled=False):
            return F.cross_entropy(emissions[mask].float(), tags[mask])

    def lattice(self, emissions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """All-zero transition, start and end scores: over such a lattice the tags are independent, each with
        its softmax probability, as this decoder treats them."""
        K = emissions.shape[-1]
        zeros = emissions.new_zeros(K, dtype=torch.float32)
        return emissions.new_zeros(K, K, dtype=torch.float32), zeros, zeros

    @torch.no_grad()
    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return emissions.argmax(dim=-1).masked_fill(~mask, 0)
