"""The linear-chain CRF's negative log-likelihood, with its gradient in closed form from the marginals.

Written here for speed: pytorch-crf computes the same loss with a Python loop over time whose every step autograd
records (a broadcast add, a logsumexp and a where, and their backward), and a second loop for the gold path's
score; at CoNLL's batch of 10 that was about a fifth of a training step. Here the gold score is gathered in one
pass, log Z comes from one loop that runs the forward and the backward sums together without autograd, and the
backward is the closed form: d log Z / d emission[b, t, k] is P(tag k at t), and d log Z / d transition[i, j]
the expected number of i -> j steps. The parameters stay pytorch-crf's, so checkpoints do not change.

Not ``textlab.modules.tag_lattice``'s sums, which prediction uses: those stay in log space and add in a fixed
order, so a sentence's probabilities do not depend on its batch or the threads; this loop's matrix product may
round otherwise with either, which a training step does not mind.
"""

from __future__ import annotations

import torch


def gold_score(emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor, transitions: torch.Tensor,
               start: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """The score of each sentence's given tags (B,): start, emissions, transitions between real positions, end."""
    real = mask.to(emissions.dtype)  # (B, T)
    score = start[tags[:, 0]] + (emissions.gather(2, tags[:, :, None])[:, :, 0] * real).sum(dim=1)
    if tags.shape[1] > 1:  # not read at all without a step, so that it gets no gradient (see _LogPartition)
        score = score + (transitions[tags[:, :-1], tags[:, 1:]] * real[:, 1:]).sum(dim=1)
    last = tags.gather(1, (mask.sum(dim=1) - 1)[:, None])[:, 0]  # (B,)
    return score + end[last]


def _scaled_sums(emissions: torch.Tensor, mask: torch.Tensor, transitions: torch.Tensor, start: torch.Tensor,
                 end: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The forward and backward sums, each position's scaled to sum to 1, as logs: ``before`` (B, T, K), the tag
    prefixes ending in tag k at t, its emission included; ``after`` (B, T, K), the suffixes starting with tag k at
    t, its emission and the end score included; ``emitted`` (B, T, K), the emissions' share of both (each
    position's emissions less their maximum); and log Z (B,). Past a sentence's end the values are not used.

    Both run in one loop, in exp space, scaled at each step (Rabiner's scaled forward algorithm; the scales' logs
    are summed after the loop into log Z): a step is one batched matrix product, a multiply, a sum and a divide
    for both directions. The backward sums run forward over each sentence reversed within its length, so every
    sentence starts at position 0 and none needs a reset where it ends."""
    B, T, K = emissions.shape
    lengths = mask.sum(dim=1)
    steps = torch.arange(T, device=emissions.device)[None, :]
    reverse = torch.where(mask, lengths[:, None] - 1 - steps, steps)[:, :, None].expand(-1, -1, K)  # its own inverse
    both = torch.stack([emissions, emissions.gather(1, reverse)])  # (2, B, T, K): forward, reversed
    shift = both.amax(dim=3, keepdim=True)  # (2, B, T, 1)
    emitted = both - shift
    weights = emitted.exp().permute(2, 0, 1, 3).contiguous()  # (T, 2, B, K)
    exp_transitions = transitions.exp()
    steps_between = torch.stack([exp_transitions, exp_transitions.T])  # (2, K, K): i -> j forward, j -> i reversed
    first = torch.stack([start, end])  # (2, K)
    first_shift = first.amax(dim=1, keepdim=True)  # (2, 1)
    state = (first - first_shift).exp()[:, None, :] * weights[0]  # (2, B, K)
    scale = state.sum(dim=2, keepdim=True)
    states, scales = [state / scale], [scale]
    for t in range(1, T):  # past a sentence's end the state runs on over padding
        state = torch.bmm(states[-1], steps_between) * weights[t]
        scale = state.sum(dim=2, keepdim=True)
        states.append(state / scale)
        scales.append(scale)
    logs = torch.stack(states, dim=2).log()  # (2, B, T, K)
    # log Z: the forward scales' logs up to each sentence's last position, plus the end scores there
    log_scales = (torch.cat(scales, dim=2)[0].log() + shift[0, :, :, 0]) * mask  # (B, T)
    last = logs[0].gather(1, (lengths - 1)[:, None, None].expand(-1, 1, K))[:, 0]  # (B, K)
    log_z = log_scales.sum(dim=1) + first_shift[0] + torch.logsumexp(last + end, dim=1)
    return logs[0], logs[1].gather(1, reverse), emitted[0], log_z


class _LogPartition(torch.autograd.Function):
    """log Z (B,) of each sentence's lattice; its backward is made of the marginals, not recorded step by step."""

    @staticmethod
    def forward(ctx, emissions, mask, transitions, start, end):
        before, after, emitted, log_z = _scaled_sums(emissions, mask, transitions, start, end)
        ctx.save_for_backward(mask, transitions, before, after, emitted)
        return log_z

    @staticmethod
    def backward(ctx, grad_log_z):
        mask, transitions, before, after, emitted = ctx.saved_tensors
        B, T, K = before.shape
        g = grad_log_z[:, None, None]  # (B, 1, 1)
        # P(tag k at t): the prefixes ending there times the suffixes starting there, its emission counted once,
        # normalised over the tags at each position (the scales cancel; no large log Z is subtracted)
        marginals = torch.where(mask[:, :, None], (before + after - emitted).softmax(dim=2), 0.0)  # (B, T, K)
        last = marginals.gather(1, (mask.sum(dim=1) - 1)[:, None, None].expand(-1, 1, K))[:, 0]  # (B, K)
        grad_transitions = None
        if T > 1:
            # P(tag i at t-1 and tag j at t), normalised over the pairs at each step, summed over the real steps
            pairs = (before[:, :-1, :, None] + transitions + after[:, 1:, None, :]).reshape(B, T - 1, K * K)
            pairs = torch.where(mask[:, 1:, None], pairs.softmax(dim=2), 0.0).reshape(B, T - 1, K, K)
            grad_transitions = (pairs * g[..., None]).sum(dim=(0, 1))  # (K, K)
        # A batch of one-token sentences has no step, so no gradient (None), as pytorch-crf's loss gives its
        # transitions none there: a zero would still move them through SGD's momentum.
        return marginals * g, None, grad_transitions, (marginals[:, 0] * g[:, 0]).sum(0), (last * g[:, 0]).sum(0)


def crf_negative_log_likelihood(emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor,
                                transitions: torch.Tensor, start: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """-log P(tags | emissions) for each sentence (B,), in float32; sentences left-aligned under ``mask``, every
    transition allowed (training scores all paths, as Ma & Hovy's CRF does). Scores must stay under exp's range
    (about 88) apart within a position's tags and transitions; a CRF's learn to a few units."""
    with torch.autocast(emissions.device.type, enabled=False):
        emissions, transitions, start, end = emissions.float(), transitions.float(), start.float(), end.float()
        log_z = _LogPartition.apply(emissions, mask, transitions, start, end)
        return log_z - gold_score(emissions, tags, mask, transitions, start, end)
