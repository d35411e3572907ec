"""Vocabulary and batching: stable indices, shifted targets, contiguous streams."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gru_core.config import distinct_chars
from gru_core.data import Vocab, make_batches


def test_vocab_is_sorted_and_round_trips():
    v = Vocab(distinct_chars("MathMath"))  # as the trainer builds it: sorted, the same in every run
    assert v.chars == "Maht"
    assert v.decode(v.encode("hatM")) == "hatM"
    assert v.one_hot(v.encode("a")).tolist() == [[0.0, 1.0, 0.0, 0.0]]


@settings(max_examples=60, deadline=None)
@given(
    text=st.text(alphabet="abcdefgh \n", min_size=2, max_size=300),
    B=st.integers(1, 6),
    T=st.integers(1, 12),
    layout=st.sampled_from(["streams", "article"]),
)
def test_targets_are_inputs_shifted_by_one(text, B, T, layout):
    if len(text) < B * T + 1:
        return
    v = Vocab(distinct_chars(text))
    enc = v.encode(text)
    X, Y = make_batches(enc, B, T, layout)
    N = X.shape[0]
    assert X.shape == Y.shape == (N, T, B) and N >= 1
    # each X index is at some position p of the text and Y holds the character at p + 1
    if layout == "streams":
        stream_len = (len(text) - 1) // B
        for b in range(B):
            flat = X[:, :, b].reshape(-1)
            start = b * stream_len
            assert torch.equal(flat, enc[start : start + flat.numel()])
            assert torch.equal(Y[:, :, b].reshape(-1), enc[start + 1 : start + 1 + flat.numel()])
    else:
        flat = X.transpose(1, 2).reshape(-1)
        assert torch.equal(flat, enc[: flat.numel()])
        assert torch.equal(Y.transpose(1, 2).reshape(-1), enc[1 : flat.numel() + 1])
