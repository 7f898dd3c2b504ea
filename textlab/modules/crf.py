"""Tag decoders: a linear-chain CRF (pytorch-crf's parameters, textlab's loss) with constrained batched Viterbi,
and a softmax.

They are the tagger's ``decoder`` part, built with the tag names and scheme. The CRF's constraints
(never ``O -> I-PER``) act in Viterbi when on; training scores every path, as Ma & Hovy's did.

Both take emissions (B, T, K) and a bool mask (B, T) whose True entries are left-aligned, and offer
``loss(emissions, tags, mask)`` (a mean, so its scale does not depend on the batch size) and
``decode(emissions, mask, confidences) -> (B, T)`` tag ids (0 on padding) with their confidences when
asked, and ``lattice(emissions)``, the transition scores that decoding uses, for the probabilities of
``textlab.modules.tag_lattice``. ``min_entity_probability`` drops a decoded entity less probable than
that under the model (its tags become ``O``).
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
import torchcrf
from torch import nn

from textlab.modules.crf_loss import crf_negative_log_likelihood
from textlab.modules.tag_confidences import DecodedConfidences, tag_confidences


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
    # at a padding position each tag's best previous tag is itself, so the backtrace walks through a sentence's
    # padding unchanged to its last word: one gather a step, with no test of the lengths
    stay = torch.arange(K, device=emissions.device).expand(B, K)
    history = []
    for emission, inside in zip(emissions.unbind(1)[1:], mask[:, :, None].unbind(1)[1:]):
        # candidate[b, i, j]: best path ending in tag i at t-1, then the step to tag j; tag j's emission is added
        # after the maximum, once per tag rather than once per pair (rounding is monotonic: the same maximum)
        candidate = score[:, :, None] + transitions[None]  # (B, K, K)
        best, best_prev = candidate.max(dim=1)  # (B, K)
        score = torch.where(inside, best + emission, score)  # padding keeps the finished score
        history.append(torch.where(inside, best_prev, stay))
    current = (score + end).argmax(dim=-1, keepdim=True)  # (B, 1)
    path = [current]
    for best_prev in reversed(history):
        current = best_prev.gather(1, current)
        path.append(current)
    return torch.cat(path[::-1], dim=1).masked_fill(~mask, 0)  # (B, T)


class TagDecoder(nn.Module):
    """What both decoders share: the tags, and dropping unlikely entities after decoding."""

    def __init__(self, tags: list[str], scheme: str, min_entity_probability: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= min_entity_probability <= 1.0:
            raise ValueError(f"min_entity_probability must be in [0, 1], not {min_entity_probability}")
        if min_entity_probability and "O" not in tags:
            raise ValueError("min_entity_probability turns dropped entities into O tags, and the training data "
                             "has no O tag")
        self.tags, self.scheme = list(tags), scheme
        self.min_entity_probability = min_entity_probability

    def best_paths(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def lattice(self, emissions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # pragma: no cover
        raise NotImplementedError

    @torch.no_grad()
    def decode(self, emissions: torch.Tensor, mask: torch.Tensor, confidences: bool = False
               ) -> tuple[torch.Tensor, DecodedConfidences | None]:
        """Tag ids (B, T), less the entities under ``min_entity_probability``, and their confidences if asked."""
        paths = self.best_paths(emissions, mask)
        if not (confidences or self.min_entity_probability):
            return paths, None
        scored = tag_confidences(emissions, mask, paths, self.tags, self.lattice(emissions),
                                 self.min_entity_probability, per_token=confidences)
        return scored.paths, scored


class CRFDecoder(TagDecoder):
    """pytorch-crf's CRF parameters; their loss by ``textlab.modules.crf_loss`` (pytorch-crf's likelihood, faster
    and closer to float64), constrained batched Viterbi to decode.

    Everything runs in float32 with autocast off: the forward algorithm's log-sum-exp loses too much
    in half precision.
    """

    def __init__(self, tags: list[str], scheme: str, constrained: bool = True,
                 min_entity_probability: float = 0.0) -> None:
        """
        Args:
            tags: the tag names (given by the model).
            scheme: their scheme, IOB2 or BIOES (given by the model).
            constrained: forbid impossible transitions (e.g. O -> I-PER) in Viterbi.
            min_entity_probability: drop a decoded entity whose probability under the model is below this (its
                tags become O), in validation, test and prediction; training is unchanged. 0.5 keeps the
                entities the model finds likelier than not: fewer false positives for some misses.
        """
        super().__init__(tags, scheme, min_entity_probability)
        self.crf = torchcrf.CRF(len(tags), batch_first=True)
        allowed, start, end = allowed_transitions(scheme, tags) if constrained else (None, None, None)
        K = len(tags)
        # Not persistent: the masks follow from the tags and the `constrained` argument, so a checkpoint
        # can be decoded either way (`textlab test --ckpt_path C --model.decoder.constrained false`).
        self.register_buffer("allowed", allowed if constrained else torch.ones(K, K, dtype=torch.bool),
                             persistent=False)
        self.register_buffer("allowed_start", start if constrained else torch.ones(K, dtype=torch.bool),
                             persistent=False)
        self.register_buffer("allowed_end", end if constrained else torch.ones(K, dtype=torch.bool),
                             persistent=False)

    def loss(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        crf = self.crf
        nll = crf_negative_log_likelihood(emissions, tags, mask, crf.transitions, crf.start_transitions,
                                          crf.end_transitions).mean()
        # A batch of one-token sentences (bucketing groups them: CoNLL has hundreds) never reaches the
        # transition matrix, so it gets no gradient (as with pytorch-crf's loss). Under DDP the rank holding
        # such a batch then never all-reduces that parameter's bucket while the other ranks wait for it:
        # training hangs. Adding it times zero keeps it in every step's graph there. Only there: in one process a zero
        # gradient is not the same as none, since SGD's momentum still moves a parameter with a zero
        # gradient and skips one without (docs/conll2003_experiments.md, "A change of arithmetic").
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            nll = nll + 0.0 * self.crf.transitions.sum()
        return nll

    def lattice(self, emissions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The (transitions, start, end) scores decoding uses, forbidden ones at -inf (``textlab.modules.tag_lattice``)."""
        crf = self.crf
        return (crf.transitions.float().masked_fill(~self.allowed, float("-inf")),
                crf.start_transitions.float().masked_fill(~self.allowed_start, float("-inf")),
                crf.end_transitions.float().masked_fill(~self.allowed_end, float("-inf")))

    @torch.no_grad()
    def best_paths(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        with torch.autocast(emissions.device.type, enabled=False):
            return viterbi_decode(emissions.float(), mask, *self.lattice(emissions))


class SoftmaxDecoder(TagDecoder):
    """Independent per-token softmax: token-mean cross-entropy, argmax decoding."""

    def __init__(self, tags: list[str], scheme: str, min_entity_probability: float = 0.0) -> None:
        """
        Args:
            tags: the tag names (given by the model).
            scheme: their scheme, IOB2 or BIOES (given by the model).
            min_entity_probability: drop a decoded entity whose probability under the model is below this.
        """
        super().__init__(tags, scheme, min_entity_probability)

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
    def best_paths(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return emissions.argmax(dim=-1).masked_fill(~mask, 0)
