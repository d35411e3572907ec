r"""Where each number of a traced batch comes from: the article's equations with the numbers filled in.

UI-free (the tui only shows the strings this module returns). The equation texts
themselves are in gru_core/equations.py (no torch: the app draws them before torch loads),
the numbers a cell's result comes from are gru_core/cell.py's reference step, and the
backward pass whose terms a gradient lists is gru_core/batch_detail.py's record.

`Explainer.explain(cell)`: one selected cell's equation, its numbers and its result,
computed from the weights and the batch (not read off the trace's own result), the parts
of a unit of a gate read from one column of its U; the loss is the mean of the term3
row, each of whose cells explains itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from . import cell as gru_cell
from .batch_detail import BatchDetail
from .equations import FORMS, Cell, equations  # noqa: F401 - re-exported: the text beside the numbers

# the explanations' equations stay short with the two-letter names: n4 is a number, p4 one
# after an operator, s4 a signed term, each as every pane shows it
from .formatting import char_quoted as char_name
from .formatting import fixed, setting, significant
from .formatting import operand as p4
from .formatting import precise as n4
from .formatting import term as s4
from .forward import Trace

TOP_CONTRIBUTIONS = 6  # a gradient over more time steps than this lists its largest terms
GATE_PARAMS = {"z": ("Wz", "Uz", "bz"), "r": ("Wr", "Ur", "br"), "h": ("Wh", "Uh", "bh")}


# ===================================================================== explanations


@dataclass(frozen=True)
class Explanation:
    title: str  # "z[seq 1, unit 2] at t = 3: 0.4321", the result in it
    lines: tuple[str, ...]  # the equation; the last line starting "  =" ends with the result
    value: float  # the result, computed from the weights and the batch


class Explainer:
    """Explanations for the cells of one traced batch. vocab: index -> character.

    Lazy, for one cell at a time: a cell's result is the cell's reference step
    (cell.forward_step) for its (t, sequence), computed when first asked for and kept
    for the next cell; its parts, a gate unit's sums, read one column of a U (O(H)).
    Weights are turned to float64 when first used, so a new snapshot costs nothing until
    a cell is explained.
    """

    def __init__(self, trace: Trace, detail: BatchDetail, vocab: str) -> None:
        self.trace, self.detail, self.vocab = trace, detail, vocab
        self._double: dict[str, Tensor] = {}  # weight name -> its float64 copy
        self._vectors: dict[tuple[str, int, int], Tensor] = {}  # (what, t, b) -> a whole [H] or [V]
        self._steps: dict[tuple[int, int], gru_cell.StepOut] = {}  # (t, b) -> z, r, h_tilde, h [H]

    def w(self, name: str) -> Tensor:
        """A weight in float64 (copied on first use)."""
        if name not in self._double:
            self._double[name] = self.detail.weights[name].double()
        return self._double[name]

    def _kept(self, what: str, t: int, b: int, compute) -> Tensor:
        key = (what, t, b)
        if key not in self._vectors:
            self._vectors[key] = compute()
        return self._vectors[key]

    # ---------------------------------------------------------------- the forward
    def _x(self, t: int, b: int) -> int:
        return int(self.trace.x[t, b])

    def _h_prev(self, t: int, b: int) -> Tensor:
        return self._kept("h_prev", t, b, lambda: self.trace.h_prev[t, b].double())  # [H]

    def _step(self, t: int, b: int) -> gru_cell.StepOut:
        """The cell's forward step of sequence b at t, from the weights: z, r, h_tilde, h [H]."""
        if (t, b) not in self._steps:
            weights = {name: self.w(name) for name in self.detail.weights}
            self._steps[t, b] = gru_cell.forward_step(weights, self._x(t, b), self._h_prev(t, b),
                                                      self.detail.reset)
        return self._steps[t, b]

    def _gate_unit(self, t: int, b: int, gate: str, j: int) -> tuple[float, float, float]:
        """(x W[x, j], Σ_i h_prev[i] U[i, j], b[j]) of one unit of a gate: column j of U only."""
        Wn, Un, bn = GATE_PARAMS[gate]
        w = self.detail.weights
        column = w[Un][:, j].double()  # [H]
        return float(w[Wn][self._x(t, b), j]), float(self._h_prev(t, b) @ column), float(w[bn][j])

    def _hn_unit(self, t: int, b: int, j: int) -> float:
        """reset="after": Σ_i h_prev[i] Uh[i, j] + bUh[j], the term r scales."""
        w = self.detail.weights
        return float(self._h_prev(t, b) @ w["Uh"][:, j].double()) + float(w["bUh"][j])

    def _inner_unit(self, t: int, b: int, j: int) -> float:
        """reset="before": Σ_i (r⊙h_prev)[i] Uh[i, j] (all of r, column j of Uh)."""
        r_h = self._kept("r_h_prev", t, b, lambda: self._step(t, b).r * self._h_prev(t, b))
        return float(r_h @ self.detail.weights["Uh"][:, j].double())

    def _logits(self, t: int, b: int) -> Tensor:
        return self._kept("logits", t, b, lambda: self._step(t, b).h @ self.w("Wy") + self.w("by"))

    def _log_y_hat(self, t: int, b: int) -> Tensor:
        return self._kept("log_y_hat", t, b, lambda: torch.log_softmax(self._logits(t, b), dim=-1))

    # ---------------------------------------------------------------- cells
    def explain(self, cell: Cell) -> Explanation:
        name = cell.name
        if name.startswith("d") and name[1:] in self.detail.grads:
            return self._gradient(cell)
        method = getattr(self, f"_explain_{name}", None)
        if method is None:
            raise ValueError(f"no explanation for {name!r}")
        e = method(cell)
        # the result in the title too: the first line is the one a short panel always shows
        return Explanation(f"{e.title}: {n4(e.value)}", e.lines, e.value)

    def _where(self, cell: Cell, what: str) -> str:
        return f"{cell.name}[seq {cell.row + 1}, {what}] at t = {cell.t + 1}"

    def _char(self, index: int) -> str:
        return char_name(self.vocab[index])

    def _explain_h_prev(self, c: Cell) -> Explanation:
        v = float(self.trace.h_prev[c.t, c.row, c.col])
        if c.t == 0:
            how = "carried in: h at the last step of the batch before (zero at an epoch's start)"
        else:
            how = f"h[seq {c.row + 1}, unit {c.col + 1}] of step t = {c.t}"
        return Explanation(self._where(c, f"unit {c.col + 1}"), (f"h_prev = {how}", f"  = {n4(v)}"), v)

    def _gate_cell(self, c: Cell, gate: str) -> Explanation:
        Wn, Un, bn = GATE_PARAMS[gate]
        j, u = c.col, c.col + 1  # units are numbered from 1 on screen (h1, h2, …)
        a, s, k = self._gate_unit(c.t, c.row, gate, j)
        pre = a + s + k
        v = float(getattr(self._step(c.t, c.row), gate)[j])  # the cell's gate: σ(pre)
        x = self._char(int(self.trace.x[c.t, c.row]))
        lines = (
            f"{gate} = σ({Wn}[x={x}, {u}] + Σ_i h_prev[i]·{Un}[i, {u}] + {bn}[{u}])",
            f"  = σ({n4(a)} + ({n4(s)}) + {p4(k)}) = σ({n4(pre)}) = {n4(v)}",
        )
        return Explanation(self._where(c, f"unit {j + 1}"), lines, v)

    def _explain_z(self, c: Cell) -> Explanation:
        return self._gate_cell(c, "z")

    def _explain_r(self, c: Cell) -> Explanation:
        return self._gate_cell(c, "r")

    def _explain_h_tilde(self, c: Cell) -> Explanation:
        j, u = c.col, c.col + 1
        w = self.detail.weights
        a, k = float(w["Wh"][self._x(c.t, c.row), j]), float(w["bh"][j])
        x = self._char(self._x(c.t, c.row))
        if self.detail.reset == "before":
            s = self._inner_unit(c.t, c.row, j)
            v = float(self._step(c.t, c.row).h_tilde[j])
            lines = (
                f"h_tilde = tanh(Wh[x={x}, {u}] + Σ_i (r⊙h_prev)[i]·Uh[i, {u}] + bh[{u}])",
                f"  = tanh({n4(a)} + ({n4(s)}) + {p4(k)}) = tanh({n4(a + s + k)}) = {n4(v)}",
            )
        else:
            n, g = self._hn_unit(c.t, c.row, j), float(self._step(c.t, c.row).r[j])
            v = float(self._step(c.t, c.row).h_tilde[j])
            lines = (
                f"h_tilde = tanh(Wh[x={x}, {u}] + bh[{u}] + r[{u}]·(Σ_i h_prev[i]·Uh[i, {u}] + bUh[{u}]))",
                f"  = tanh({n4(a)} + {p4(k)} + {n4(g)}·({n4(n)})) = tanh({n4(a + k + g * n)}) = {n4(v)}",
            )
        return Explanation(self._where(c, f"unit {j + 1}"), lines, v)

    def _explain_h(self, c: Cell) -> Explanation:
        j = c.col
        step = self._step(c.t, c.row)
        zj, hp, ht = float(step.z[j]), float(self._h_prev(c.t, c.row)[j]), float(step.h_tilde[j])
        v = float(step.h[j])  # the cell's h
        lines = (
            f"h = z[{j + 1}]·h_prev[{j + 1}] + (1−z[{j + 1}])·h_tilde[{j + 1}]",
            f"  = {n4(zj)}·({n4(hp)}) + {n4(1 - zj)}·({n4(ht)}) = {n4(v)}",
        )
        return Explanation(self._where(c, f"unit {j + 1}"), lines, v)

    def _explain_y_hat(self, c: Cell) -> Explanation:
        """The softmax as it is computed: every logit less their max m first (exp of a raw
        logit overflows, and its digits said nothing: `1194121.9975 / 369910020138.8991`)."""
        v_i = c.col
        h, logits = self._step(c.t, c.row).h, self._logits(c.t, c.row)
        s, k = float(h @ self.w("Wy")[:, v_i]), float(self.w("by")[v_i])
        m = float(logits.max())
        denom = float(torch.exp(logits - m).sum())
        num = math.exp(float(logits[v_i]) - m)
        v = num / denom
        ch = self._char(v_i)
        lines = (
            f"logit[{ch}] = Σ_i h[i]·Wy[i, {ch}] + by[{ch}] = {n4(s)} + ({n4(k)}) = {n4(s + k)}",
            f"y_hat = exp(logit − m) / Σ_v exp(logit_v − m), m = max_v logit_v = {n4(m)}",
            f"  = exp({n4(s + k - m)}) / {n4(denom)} = {n4(num)} / {n4(denom)} = {n4(v)}",
        )
        return Explanation(self._where(c, f"char {ch}"), lines, v)

    def _explain_term1(self, c: Cell) -> Explanation:
        target = int(self.trace.y[c.t, c.row])
        log_p = float(self._log_y_hat(c.t, c.row)[c.col])
        y = 1.0 if c.col == target else 0.0
        v = y * log_p
        lines = (
            f"term1 = y[{self._char(c.col)}]·log(y_hat[{self._char(c.col)}])  (y = 1 at the target "
            f"{self._char(target)}, else 0)",
            f"  = {fixed(y, 0)}·log({n4(math.exp(log_p))}) = {fixed(y, 0)}·({n4(log_p)}) = {n4(v)}",
        )
        return Explanation(self._where(c, f"char {self._char(c.col)}"), lines, v)

    def _explain_term2(self, c: Cell) -> Explanation:
        target = int(self.trace.y[c.t, c.row])
        v = float(self._log_y_hat(c.t, c.row)[target])
        lines = (
            "term2 = Σ_v term1[v] = log(y_hat[target]): every other term is 0",
            f"  = log(y_hat[{self._char(target)}]) = log({n4(math.exp(v))}) = {n4(v)}",
        )
        return Explanation(f"term2[seq {c.row + 1}] at t = {c.t + 1}", lines, v)

    def _term3(self, t: int) -> tuple[list[float], float]:
        k = int(self.trace.x.shape[1])
        term2 = [float(self._log_y_hat(t, b)[int(self.trace.y[t, b])]) for b in range(k)]
        return term2, -sum(term2) / k

    def _explain_term3(self, c: Cell) -> Explanation:
        t = c.col
        term2, v = self._term3(t)
        parts = " ".join(s4(x) for x in term2).lstrip("+ ")
        lines = (
            f"term3 = −mean_b term2 = −(Σ_b term2[b]) / {len(term2)}",
            f"  = −({parts}) / {len(term2)} = {n4(v)}",
        )
        return Explanation(f"term3[t = {t + 1}]", lines, v)

    def _explain_loss(self, c: Cell) -> Explanation:
        # the term3 row as the pane shows it (each term3 cell explains itself from the
        # weights; all T of them at once would be T*B forwards, far more than a frame)
        term3 = self.trace.term3.double().tolist()
        T = len(term3)
        v = sum(term3) / T
        if T <= 8:
            listed = " + ".join(n4(x) for x in term3)
        else:
            listed = " + ".join(n4(x) for x in term3[:4]) + f" + … ({T - 4} more)"
        lines = (f"loss = mean over t of term3 (the row above) = (Σ_t term3[t]) / {T}",
                 f"  = ({listed}) / {T} = {n4(v)}")
        return Explanation("loss", lines, v)

    # ---------------------------------------------------------------- gradients
    def contributions(self, name: str, i: int, j: int) -> tuple[str, str, list[float]]:
        """(equation, delta's name, per-time-step terms) of dL/d<name>[i, j] (a bias: j only)."""
        d, tr = self.detail, self.trace
        T = int(tr.x.shape[0])
        gate = {"z": "z", "r": "r", "h": "h"}.get(name[-1]) if name[0] in "WUb" and name != "by" else None
        if name in ("Wy", "by"):
            delta, dname = d.do[..., j].double(), "do"
        elif name in ("Uh", "bUh") and d.reset == "after":
            delta, dname = d.da["hn"][..., j].double(), "da_hn"
        else:
            delta, dname = d.da[gate][..., j].double(), f"da_{gate}"
        if name == "by":  # indexed by character, as its title and the pane's header are
            terms = delta.sum(1)
            eq = f"dL/dby[{self._char(j)}] = Σ_t Σ_b do[t, b, {self._char(j)}]"
        elif name.startswith("b"):
            terms = delta.sum(1)
            eq = f"dL/d{name}[{j + 1}] = Σ_t Σ_b {dname}[t, b, {j + 1}]"
        elif name.startswith("W") and name != "Wy":
            terms = (delta * (tr.x == i).double()).sum(1)
            eq = (f"dL/d{name}[{self._char(i)}, {j + 1}] = Σ_t Σ_b [x[t, b] = {self._char(i)}]"
                  f"·{dname}[t, b, {j + 1}]")
        elif name == "Wy":
            terms = (tr.h[..., i].double() * delta).sum(1)
            eq = (f"dL/dWy[{i + 1}, {self._char(j)}] = Σ_t Σ_b h[t, b, {i + 1}]"
                  f"·do[t, b, {self._char(j)}]")
        elif name == "Uh" and d.reset == "before":
            terms = ((tr.r[..., i] * tr.h_prev[..., i]).double() * delta).sum(1)
            eq = f"dL/dUh[{i + 1}, {j + 1}] = Σ_t Σ_b (r⊙h_prev)[t, b, {i + 1}]·da_h[t, b, {j + 1}]"
        else:
            terms = (tr.h_prev[..., i].double() * delta).sum(1)
            eq = f"dL/d{name}[{i + 1}, {j + 1}] = Σ_t Σ_b h_prev[t, b, {i + 1}]·{dname}[t, b, {j + 1}]"
        assert len(terms) == T
        return eq, dname, [float(v) for v in terms]

    def _gradient(self, c: Cell) -> Explanation:
        """dL/dθ of the whole batch: the shown sequences' terms step by step, the other
        sequences' sum as one term, then the clipping the step applies (if any)."""
        name = c.name[1:]
        d = self.detail
        eq, dname, terms = self.contributions(name, c.row, c.col)
        total = float(d.grads[name][c.row, c.col] if d.grads[name].dim() == 2 else d.grads[name][c.col])
        T, k, B = len(terms), d.shown, d.batch_size or d.shown
        seqs = "seq 1" if k == 1 else f"seqs 1–{k}"
        # a difference of float32 sums is exact only to ~1e-7 of what is summed: below that,
        # its digits are noise (1.793e-10 where float64 gives 4.5e-11), so it shows as 0
        floor = 1e-6 * max([abs(total), *map(abs, terms)])
        denoise = lambda v: 0.0 if abs(v) < floor else v  # noqa: E731
        rest_seqs = f"seq {B}" if B - k == 1 else f"seqs {k + 1}–{B}"
        others = [] if B <= k else [f"{s4(denoise(total - sum(terms)))} ({rest_seqs})"]
        if T <= TOP_CONTRIBUTIONS:
            listed = [f"{s4(x)} (t{t + 1})" for t, x in enumerate(terms)]
            if others:
                eq += f"   ({seqs} by step, the other {B - k} as one term)"
        else:
            largest = sorted(range(T), key=lambda t: -abs(terms[t]))[: TOP_CONTRIBUTIONS - 1]
            top = [t for t in largest if terms[t] != 0]  # a step that adds 0 is no "largest" term
            rest = sum(terms) - sum(terms[t] for t in top)
            listed = [f"{s4(terms[t])} (t{t + 1})" for t in sorted(top)]
            if top:
                listed.append(f"{s4(denoise(rest))} (the other {T - len(top)} steps)")
            of = f", of {seqs}" if others else ""
            if not top:
                listed = []
                eq += f"   (every step{of} adds 0)"
            else:
                which = (f"the {len(top)} nonzero of {T} steps" if len(top) < len(largest)
                         else f"{len(top)} largest of {T} steps")
                eq += f"   ({which} listed{of})"
        sum_text = " ".join(listed + others).lstrip("+ ")
        if sum_text.startswith("- "):  # a first term's sign is its own: -0.0012, not - 0.0012
            sum_text = "-" + sum_text[2:]
        lines = [eq, f"  = {sum_text} = {n4(total)}" if sum_text else f"  = {n4(total)}"]
        value = total
        if d.clip_scale != 1.0:
            value = total * d.clip_scale
            lines.append(f"  × {fixed(d.clip_scale)} (the step clips ‖dL/dθ‖ {significant(d.grad_norm)} "
                         f"to {setting(d.clip)})"
                         f" = {n4(value)}")
        note = {"da_z": "da_z = dh⊙(h_prev − h_tilde)⊙z⊙(1−z)", "da_h": "da_h = dh⊙(1−z)⊙(1−h_tilde²)",
                "da_r": ("da_r = (da_h Uh^T)⊙h_prev⊙r⊙(1−r)" if d.reset == "before"
                         else "da_r = da_h⊙(h_prev Uh + bUh)⊙r⊙(1−r)"),
                "da_hn": "da_hn = da_h⊙r", "do": "do = (y_hat − y) / (T·B)"}[dname]
        lines.append(f"  where {note}, dh = dL/dh_t, T = {T}, B = {B}")
        if name == "Wy":
            where = f"[{c.row + 1}, {self._char(c.col)}]"
        elif name[0] == "W":
            where = f"[{self._char(c.row)}, {c.col + 1}]"
        elif name == "by":
            where = f"[{self._char(c.col)}]"
        else:
            where = f"[{c.col + 1}]" if name[0] == "b" else f"[{c.row + 1}, {c.col + 1}]"
        return Explanation(f"d{name}{where} = {n4(value)}, over the whole batch of {B}", tuple(lines), value)
