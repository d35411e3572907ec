"""Every explained number equals an independent computation from the weights and the batch.

The reference below is the article's equations written again, in float64, with one-hot
matmuls and autograd for the gradients: it shares nothing with the trace or the
hand-derived backward that the explanations read.
"""

import random
import re

import pytest
import torch

from gru_core.batch_detail import batch_detail, model_weights
from gru_core.config import ARTICLE_VOCAB
from gru_core.equations import Cell, equations
from gru_core.explain import Explainer
from gru_core.forward import forward_trace
from gru_core.model import PARAM_NAMES, GRUModel

SIZES = {"article": dict(V=len(ARTICLE_VOCAB), H=2, T=3, k=2), "larger": dict(V=25, H=37, T=11, k=3)}


def _case(reset, V, H, T, k, seed=3):
    model = GRUModel(V, H, reset=reset, init="randn", seed=seed, dtype=torch.float32)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in (model.b, model.bUh, model.by):
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    x = torch.randint(0, V, (T, k), generator=g)
    y = torch.randint(0, V, (T, k), generator=g)
    h0 = torch.randn(k, H, generator=g) * 0.5
    return model, x, y, h0


def _reference(model, x, y, h0):
    """The article's forward in float64 from the weights, and autograd for every gradient."""
    w = {n: t.detach().double().clone().requires_grad_(True) for n, t in model.named_tensors().items()}
    T, k = x.shape
    V = model.vocab_size
    onehot = torch.nn.functional.one_hot(x, V).double()
    h = h0.double()
    out = {n: [] for n in ("h_prev", "z", "r", "h_tilde", "h")}
    for t in range(T):
        xt = onehot[t]
        z = torch.sigmoid(xt @ w["Wz"] + h @ w["Uz"] + w["bz"])
        r = torch.sigmoid(xt @ w["Wr"] + h @ w["Ur"] + w["br"])
        if model.reset == "before":
            h_tilde = torch.tanh(xt @ w["Wh"] + (r * h) @ w["Uh"] + w["bh"])
        else:
            h_tilde = torch.tanh(xt @ w["Wh"] + w["bh"] + r * (h @ w["Uh"] + w["bUh"]))
        out["h_prev"].append(h)
        h = z * h + (1 - z) * h_tilde
        h.retain_grad()
        for name, v in (("z", z), ("r", r), ("h_tilde", h_tilde), ("h", h)):
            out[name].append(v)
    y_hat = torch.softmax(torch.stack(out["h"]) @ w["Wy"] + w["by"], -1)  # [T, k, V]
    term1 = torch.nn.functional.one_hot(y, V).double() * torch.log(y_hat)
    term2 = term1.sum(-1)
    term3 = -term2.mean(-1)
    loss = term3.mean()
    loss.backward()
    ref = {n: torch.stack(v).detach() for n, v in out.items()}
    ref["dh_norm"] = torch.stack([h.grad.norm() for h in out["h"]])
    ref.update(y_hat=y_hat.detach(), term1=term1.detach(), term2=term2.detach(), term3=term3.detach(),
               loss=loss.detach(), grads={n: p.grad for n, p in w.items()})
    return ref


def _shown(lines) -> float:
    """The result as the explanation prints it: the last number of its last line starting '  ='."""
    line = [line for line in lines if line.startswith("  =")][-1]
    number = re.findall(r"[−-]?\d+\.\d+(?:e[−-]?\d+)?", line)[-1]
    return float(number.replace("−", "-"))


def _cells(ref, model, T, k, rng, per_kind):
    H, V = model.hidden_size, model.vocab_size
    for t in rng.sample(range(T), min(T, 3)):
        for b in range(k):
            for name in ("h_prev", "z", "r", "h_tilde", "h"):
                for j in rng.sample(range(H), min(H, per_kind)):
                    yield Cell(name, t, b, j), float(ref[name][t, b, j])
            for name in ("y_hat", "term1"):
                cols = rng.sample(range(V), min(V, per_kind)) + [int(ref["y"][t, b])]
                for v in cols:
                    yield Cell(name, t, b, v), float(ref[name][t, b, v])
            yield Cell("term2", t, b, 0), float(ref["term2"][t, b])
        yield Cell("term3", t, 0, t), float(ref["term3"][t])
    yield Cell("loss"), float(ref["loss"])
    for name, g in ref["grads"].items():
        for _ in range(per_kind):
            if g.dim() == 1:
                yield Cell("d" + name, 0, 0, rng.randrange(g.shape[0])), None
            else:
                yield Cell("d" + name, 0, rng.randrange(g.shape[0]), rng.randrange(g.shape[1])), None


@pytest.mark.parametrize("reset", ["before", "after"])
@pytest.mark.parametrize("size", SIZES)
def test_every_explained_number_equals_an_independent_computation(reset, size):
    dims = SIZES[size]
    model, x, y, h0 = _case(reset, **dims)
    with torch.no_grad():
        trace = forward_trace(model, x, y, h0)
    vocab = ARTICLE_VOCAB if size == "article" else "abcdefghijklmnopqrstuvw \n"[: dims["V"]]
    explainer = Explainer(trace, batch_detail(model_weights(model), trace, reset), vocab)
    ref = _reference(model, x, y, h0)
    ref["y"] = y
    rng = random.Random(0)
    checked = set()
    per_kind = dims["H"] if size == "article" else 4
    for cell, want in _cells(ref, model, dims["T"], dims["k"], rng, per_kind):
        if want is None:  # a gradient: every entry of dL/dθ, by autograd over the whole batch
            g = ref["grads"][cell.name[1:]]
            want = float(g[cell.col] if g.dim() == 1 else g[cell.row, cell.col])
        e = explainer.explain(cell)
        text = "\n".join(e.lines)
        assert abs(e.value - want) < 1e-4, (cell, text, want)
        assert abs(_shown(e.lines) - want) < 1e-4, (cell, text, want)
        checked.add(cell.name)
    assert checked >= {"h_prev", "z", "r", "h_tilde", "h", "y_hat", "term1", "term2", "term3", "loss"}
    assert checked >= {"d" + n for n in PARAM_NAMES} | ({"dbUh"} if reset == "after" else set())


@pytest.mark.parametrize("reset", ["before", "after"])
def test_batch_detail_gradients_and_dh_norms_equal_autograd(reset):
    model, x, y, h0 = _case(reset, **SIZES["larger"])
    with torch.no_grad():
        trace = forward_trace(model, x, y, h0)
    detail = batch_detail(model_weights(model), trace, reset)
    ref = _reference(model, x, y, h0)
    for name, g in ref["grads"].items():
        assert torch.allclose(detail.grads[name].double(), g, atol=1e-4), name  # float32 against float64
    assert torch.allclose(detail.dh_norm.double(), ref["dh_norm"], rtol=1e-4, atol=1e-6)
    assert torch.allclose(detail.mean_z.double(), ref["z"].mean(dim=(1, 2)), atol=1e-6)


def test_gradient_explanation_lists_each_step_when_T_is_small_and_the_largest_when_large():
    for T, listed in ((3, 3), (11, 5)):
        model, x, y, h0 = _case("before", V=5, H=3, T=T, k=2)
        with torch.no_grad():
            trace = forward_trace(model, x, y, h0)
        e = Explainer(trace, batch_detail(model_weights(model), trace, "before"), "abcde").explain(
            Cell("dUz", 0, 1, 2))
        assert e.lines[0].startswith("dL/dUz[2, 3] = Σ_t Σ_b h_prev[t, b, 2]·da_z[t, b, 3]")
        assert len(re.findall(r"\(t\d+\)", e.lines[1])) == listed
        if T > 6:
            assert "(the other 6 steps)" in e.lines[1]


def test_the_article_example_reads_as_the_issue_writes_it():
    model, x, y, h0 = _case("before", **SIZES["article"])
    with torch.no_grad():
        trace = forward_trace(model, x, y, h0)
    e = Explainer(trace, batch_detail(model_weights(model), trace, "before"), ARTICLE_VOCAB).explain(
        Cell("z", 0, 0, 1))
    char = ARTICLE_VOCAB[int(x[0, 0])]
    # units count from 1, as the pane's h1, h2; the result in the title (a short panel shows it)
    assert e.title == f"z[seq 1, unit 2] at t = 1: {e.value:.4f}"
    assert e.lines[0] == f"z = σ(Wz[x='{char}', 2] + Σ_i h_prev[i]·Uz[i, 2] + bz[2])"
    assert re.fullmatch(r"  = σ\(\S+ \+ \(\S+\) \+ \S+\) = σ\(\S+\) = \S+", e.lines[1])


def test_equations_follow_the_reset_form():
    assert equations("before")["h_tilde"] == "h_tilde = tanh(x Wh + (r⊙h_prev) Uh + bh)"
    assert equations("after")["h_tilde"] == "h_tilde = tanh(x Wh + bh + r⊙(h_prev Uh + bUh))"
    with pytest.raises(ValueError, match="before, after; got 'sideways'"):
        equations("sideways")


def test_a_set_cancel_event_stops_the_backward_at_once():
    import threading

    from gru_core.errors import Cancelled

    model, x, y, h0 = _case("after", **SIZES["larger"])
    with torch.no_grad():
        trace = forward_trace(model, x, y, h0)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        batch_detail(model_weights(model), trace, "after", cancel)


def test_a_gradient_over_many_steps_lists_only_steps_that_contribute():
    """A character read once in the batch: dL/dWz's row for it is one step's term; the
    explanation lists that step, not four zero steps beside it as "largest"."""
    model, x, y, h0 = _case("before", V=5, H=3, T=11, k=2)
    x[:] = 0
    x[4, 1] = 3  # 'd' is read once, at t = 5 by sequence 2
    with torch.no_grad():
        trace = forward_trace(model, x, y, h0)
    detail = batch_detail(model_weights(model), trace, "before")
    e = Explainer(trace, detail, "abcde").explain(Cell("dWz", 0, 3, 1))
    assert re.findall(r"\(t\d+\)", e.lines[1]) == ["(t5)"], e.lines
    assert "(the 1 nonzero of 11 steps listed)" in e.lines[0], e.lines
    assert abs(_shown(e.lines) - float(detail.grads["Wz"][3, 1])) < 1e-4  # 4 decimals shown


@pytest.mark.parametrize("clip", [0.0, 0.05])
def test_the_detail_holds_the_gradients_the_step_applies_for_a_batch_over_4(clip):
    """B 6, 4 sequences shown (the issue's case): the detail's gradients are the whole
    batch's, divided by T·B and clipped as the step clips them, not the 4 shown ones'."""
    import threading

    from gru_core import TrainConfig
    from gru_core.snapshot_builder import detail_of, trace_batch
    from gru_core.trainer import Trainer

    rng = random.Random(2)
    text = "".join(rng.choice("abcdefg") for _ in range(400))
    trainer = Trainer(TrainConfig(text=text, hidden_size=4, seq_len=3, batch_size=6, optimizer="adam",
                                  lr=0.02, seed=2, clip=clip))
    for _ in range(5):
        trainer.step()
    cancel = threading.Event()
    trace = trace_batch(trainer, cancel)
    detail = detail_of(trainer, trace, cancel)
    assert trace.x.shape[1] == 4 and detail.batch_size == 6
    assert (detail.clip_scale < 1.0) == (clip > 0)
    trainer.step()
    for name, g in trainer.last_grads.items():
        assert torch.allclose(detail.applied[name], g, atol=1e-6), name
    e = Explainer(trace, detail, trainer.vocab.chars).explain(Cell("dby", 0, 0, 0))
    assert e.title.startswith(f"dby['{trainer.vocab.chars[0]}'] = ") and "batch of 6" in e.title
    assert abs(e.value - float(trainer.last_grads["by"][0])) < 1e-6
    assert "(seqs 5–6)" in e.lines[1]
    if clip:
        assert e.lines[2].startswith("  × ") and f"to {clip:g})" in e.lines[2]


def test_y_hat_shows_the_max_shifted_softmax_and_numbers_use_the_grids_minus_sign():
    """Large logits printed `1194121.9975 / 369910020138.8991`; the shifted form's numbers
    are each at most V; and every number reads `-`, as the grid prints it, never `−`."""
    model, x, y, h0 = _case("before", **SIZES["larger"])
    with torch.no_grad():
        model.Wy.mul_(40.0)  # logits in the tens
        trace = forward_trace(model, x, y, h0)
    vocab = "abcdefghijklmnopqrstuvwxy"
    explainer = Explainer(trace, batch_detail(model_weights(model), trace, "before"), vocab)
    for v in range(5):
        e = explainer.explain(Cell("y_hat", 1, 0, v))
        assert "m = max_v logit_v" in e.lines[1], e.lines
        fraction = e.lines[2].split(" = ", 2)[2]  # "1.247e-106 / 1.0000 = 1.247e-106"
        numbers = [float(n) for n in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", fraction)]
        assert all(abs(n) <= 25 for n in numbers), e.lines  # exp(logit - m) <= 1, the sum <= V
        assert abs(e.value - float(trace.y_hat[1, 0, v])) < 1e-4
    cells = [Cell("h", 0, 0, 1), Cell("dWz", 0, 2, 1), Cell("term3", 0, 0, 1), Cell("y_hat", 2, 1, 3)]
    cells += [Cell(name, t, 1, j) for name in ("z", "r", "h_tilde") for t in range(3) for j in range(6)]
    for cell in cells:
        text = "\n".join(explainer.explain(cell).lines)
        assert not re.search(r"−\s?\d", text), text  # a number's sign is the grid's `-`
        assert "+ -" not in text, text  # a negative term after + is in parentheses
