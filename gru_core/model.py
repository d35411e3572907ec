r"""The GRU from explicit matrices, in the article's notation (row vectors, x @ W).

The equations of one time step (z, r, h_tilde in both reset forms, h) and their backward
are in gru_core/cell.py; this module holds the weights they use, and the output layer:

    y_hat   = softmax(h Wy + by)

reset="before" puts the reset gate before the Uh product (Cho et al. 2014), reset="after"
after it (torch.nn.GRU, which needs the extra bias bUh).

Shapes: Wz, Wr, Wh [V, H]; Uz, Ur, Uh [H, H]; bz, br, bh, bUh [H]; Wy [H, V]; by [V].

Storage: the three gates' matrices sit side by side in one tensor each (W = [Wz|Wr|Wh],
U = [Uz|Ur|Uh], b = [bz|br|bh]) so the fast path can do one matmul for all three
gates. `model.Wz` and friends are views into them: reading or changing `model.Wz`
reads or changes the same numbers the optimizer updates. W, U, b, (bUh,) Wy and by are in
turn views into one flat tensor, `model.flat`, in the order of `parameters()`: the
Trainer updates, checks and backs up all of them with one operation each, where one per
tensor would cost more than the arithmetic at small sizes.

A one-hot row times a matrix picks a row of it: `x_t @ Wz == Wz[x_t]` exactly, so the
code gathers rows by character index instead of multiplying by one-hot vectors.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from . import cell
from .cell import StepOut
from .errors import GRUError

PARAM_NAMES = ("Wz", "Wr", "Wh", "Uz", "Ur", "Uh", "bz", "br", "bh", "Wy", "by")
PARAMETERS = ("W", "U", "b", "bUh", "Wy", "by")  # the stored tensors, in model.flat's order
GATES = ("z", "r", "h")  # the order of the blocks inside W, U and b


def weight_shapes(V: int, H: int, reset: str) -> dict[str, tuple[int, ...]]:
    """The shape of every article-named tensor of a GRUModel(V, H, reset), without building it:
    a loader checks a file's tensors against these before it allocates anything."""
    shapes: dict[str, tuple[int, ...]] = {}
    for gate in GATES:
        shapes[f"W{gate}"], shapes[f"U{gate}"], shapes[f"b{gate}"] = (V, H), (H, H), (H,)
    shapes = {name: shapes[name] for name in PARAM_NAMES if name in shapes}
    shapes["Wy"], shapes["by"] = (H, V), (V,)
    if reset == "after":
        shapes["bUh"] = (H,)
    return shapes


class GRUModel:
    """Parameters of a one-layer GRU plus its output layer, named as in the article."""

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        *,
        reset: str = "before",
        init: str = "uniform",
        seed: int = 1,
        dtype: torch.dtype = torch.float32,
        device: str | torch.device = "cpu",
    ) -> None:
        if reset not in ("before", "after"):
            raise GRUError(f"reset must be one of before, after; got {reset!r}")
        V, H = vocab_size, hidden_size
        self.vocab_size, self.hidden_size, self.reset = V, H, reset
        gen = torch.Generator().manual_seed(seed)
        if init == "randn":
            # The article's order after torch.manual_seed(1): Wz, Wr, Wh, Uz, Ur, Uh, Wy.
            Wz, Wr, Wh = (torch.randn(V, H, generator=gen) for _ in range(3))
            Uz, Ur, Uh = (torch.randn(H, H, generator=gen) for _ in range(3))
            Wy = torch.randn(H, V, generator=gen)
        elif init == "uniform":
            # torch.nn.GRU's scale: U(-1/sqrt(H), 1/sqrt(H)) keeps the gates unsaturated.
            k = 1.0 / math.sqrt(H)
            Wz, Wr, Wh = (torch.empty(V, H).uniform_(-k, k, generator=gen) for _ in range(3))
            Uz, Ur, Uh = (torch.empty(H, H).uniform_(-k, k, generator=gen) for _ in range(3))
            Wy = torch.empty(H, V).uniform_(-k, k, generator=gen)
        else:
            raise GRUError(f"init must be one of randn, uniform; got {init!r}")
        kw = dict(dtype=dtype, device=device)
        self.W = torch.cat([Wz, Wr, Wh], dim=1).to(**kw)  # [V, 3H]
        self.U = torch.cat([Uz, Ur, Uh], dim=1).to(**kw)  # [H, 3H]
        self.b = torch.zeros(3 * H, **kw)  # [3H]
        self.bUh = torch.zeros(H, **kw)  # [H], used by reset="after" only
        self.Wy = Wy.to(**kw)  # [H, V]
        self.by = torch.zeros(V, **kw)  # [V]
        self._use_flat(torch.cat([p.reshape(-1) for p in self.parameters()]))
        for p in self.parameters():
            p.requires_grad_(True)

    def _parameter_names(self) -> tuple[str, ...]:
        return PARAMETERS if self.reset == "after" else tuple(n for n in PARAMETERS if n != "bUh")

    def _use_flat(self, flat: Tensor) -> None:
        """Make W, U, b, (bUh,) Wy, by views into `flat`, which holds their numbers in that order."""
        self.flat = flat
        offset = 0
        for name in self._parameter_names():
            shape = getattr(self, name).shape
            n = shape.numel()
            setattr(self, name, flat[offset : offset + n].view(shape))
            offset += n

    # ------------------------------------------------------------ article names
    def _block(self, t: Tensor, gate: str) -> Tensor:
        H = self.hidden_size
        i = GATES.index(gate)
        return t[..., i * H : (i + 1) * H]

    Wz = property(lambda self: self._block(self.W, "z"))
    Wr = property(lambda self: self._block(self.W, "r"))
    Wh = property(lambda self: self._block(self.W, "h"))
    Uz = property(lambda self: self._block(self.U, "z"))
    Ur = property(lambda self: self._block(self.U, "r"))
    Uh = property(lambda self: self._block(self.U, "h"))
    bz = property(lambda self: self._block(self.b, "z"))
    br = property(lambda self: self._block(self.b, "r"))
    bh = property(lambda self: self._block(self.b, "h"))

    def parameters(self) -> list[Tensor]:
        """The leaf tensors the optimizer updates (bUh only in the reset-after form)."""
        if self.reset == "after":
            return [self.W, self.U, self.b, self.bUh, self.Wy, self.by]
        return [self.W, self.U, self.b, self.Wy, self.by]

    def named_tensors(self) -> dict[str, Tensor]:
        """Every article-named matrix (views), plus bUh for the reset-after form."""
        out = {name: getattr(self, name) for name in PARAM_NAMES}
        if self.reset == "after":
            out["bUh"] = self.bUh
        return out

    @property
    def dtype(self) -> torch.dtype:
        return self.W.dtype

    @property
    def device(self) -> torch.device:
        return self.W.device

    def detached_copy(self) -> "GRUModel":
        """An independent copy of the weights, without gradients (for sampling aside)."""
        twin = GRUModel.__new__(GRUModel)
        twin.vocab_size, twin.hidden_size, twin.reset = self.vocab_size, self.hidden_size, self.reset
        for name in ("W", "U", "b", "bUh", "Wy", "by"):
            setattr(twin, name, getattr(self, name).detach())
        twin.bUh = twin.bUh.clone()
        twin._use_flat(self.flat.detach().clone())
        return twin

    # ------------------------------------------------------------ state dicts
    def state_dict(self) -> dict[str, Tensor]:
        """Article-named, independent CPU copies: `torch.load` of a saved dict just works."""
        return {k: v.detach().cpu().clone() for k, v in self.named_tensors().items()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        """Copy article-named tensors in; shapes must match exactly (GRUError if not)."""
        want = self.named_tensors()
        missing = sorted(set(want) - set(state))
        if missing:
            raise GRUError(f"weights lack {', '.join(missing)}; they do not fit this model")
        for name, target in want.items():
            src = state[name]
            if not isinstance(src, Tensor) or tuple(src.shape) != tuple(target.shape):
                shape = tuple(src.shape) if isinstance(src, Tensor) else type(src).__name__
                raise GRUError(
                    f"weight {name} has shape {shape}; this model needs {tuple(target.shape)} "
                    f"(vocabulary {self.vocab_size}, hidden size {self.hidden_size})"
                )
        with torch.no_grad():
            for name, target in want.items():
                target.copy_(state[name].to(dtype=target.dtype))

    # ------------------------------------------------------------ the equations
    def gru_step(self, x_t: Tensor, h_prev: Tensor) -> StepOut:
        """One time step for a batch (cell.forward_step). x_t [B] character indices, h_prev [B, H]."""
        return cell.forward_step(self.named_tensors(), x_t, h_prev, self.reset)

    def output(self, h: Tensor) -> Tensor:
        """Logits h Wy + by; y_hat = softmax(logits) over the last axis."""
        return h @ self.Wy + self.by

    def zero_state(self, batch_size: int) -> Tensor:
        return torch.zeros(batch_size, self.hidden_size, dtype=self.dtype, device=self.device)

    # ------------------------------------------------------------ torch.nn.GRU
    def to_torch(self) -> tuple[torch.nn.GRU, torch.nn.Linear]:
        """An (nn.GRU, nn.Linear) pair with these weights; reset="after" only.

        nn.GRU stacks its blocks in the order r, z, n and multiplies column vectors
        (W x), so its weight_ih is [Wr.T; Wz.T; Wh.T].
        """
        if self.reset != "after":
            raise GRUError(
                'to_torch needs reset="after": torch.nn.GRU applies the reset gate after '
                "the Uh product, so the article's reset-before GRU has no nn.GRU twin "
                "(they differ by order 1); train with --reset after to convert"
            )
        V, H = self.vocab_size, self.hidden_size
        kw = dict(dtype=self.dtype, device=self.device)
        gru = torch.nn.GRU(V, H, **kw)
        lin = torch.nn.Linear(H, V, **kw)
        with torch.no_grad():
            gru.weight_ih_l0.copy_(torch.cat([self.Wr.T, self.Wz.T, self.Wh.T]))
            gru.weight_hh_l0.copy_(torch.cat([self.Ur.T, self.Uz.T, self.Uh.T]))
            gru.bias_ih_l0.copy_(torch.cat([self.br, self.bz, self.bh]))
            gru.bias_hh_l0.copy_(torch.cat([torch.zeros(2 * H, **kw), self.bUh]))
            lin.weight.copy_(self.Wy.T)
            lin.bias.copy_(self.by)
        return gru, lin
