"""Cross-entropy, term by term, as the article builds it.

    term1 = y * log(y_hat)          [T, B, V]  one-hot target times log-probabilities
    term2 = sum_v term1             [T, B]     only the target's entry survives
    term3 = -mean_b term2           [T]        one number per time step
    loss  = mean_t term3            scalar

log(y_hat) is computed as log_softmax(logits): softmax followed by log would turn a
probability that underflows to 0 into -inf (and 0 * -inf into NaN).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class LossTerms:
    loss: Tensor  # scalar
    term1: Tensor  # [T, B, V]
    term2: Tensor  # [T, B]
    term3: Tensor  # [T]


def cross_entropy_terms(logits: Tensor, y: Tensor) -> LossTerms:
    """logits [T, B, V], y [T, B] target indices."""
    log_y_hat = torch.log_softmax(logits, dim=-1)
    y_onehot = torch.nn.functional.one_hot(y, logits.shape[-1]).to(logits.dtype)
    term1 = y_onehot * log_y_hat
    term2 = term1.sum(dim=-1)
    term3 = -term2.mean(dim=-1)
    return LossTerms(loss=term3.mean(), term1=term1, term2=term2, term3=term3)


def cross_entropy(logits: Tensor, y: Tensor) -> Tensor:
    """The same mean as cross_entropy_terms(...).loss, without building term1.

    Mean over all T*B positions equals the mean over t of the mean over b, because
    every time step has the same batch size.
    """
    log_y_hat = torch.log_softmax(logits, dim=-1)
    return -log_y_hat.gather(-1, y.unsqueeze(-1)).mean()
