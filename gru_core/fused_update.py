"""SGD and Adam updates over the model's flat storage: one operation per equation, not per tensor.

torch.optim's SGD and Adam loop over the parameters (W, U, b, bUh, Wy, by) and pay a few
microseconds of Python and dispatch for each operation on each of them; at the article's
size that costs more than the whole forward pass. The parameters are views into one flat
tensor (model.flat), and their gradients views into one flat gradient, so the same
update runs once over all of them:

    SGD                 buf = momentum * buf + g (buf = g at the first step; no buf
                        without momentum) ;  w -= lr * buf
    Adam                m = m + (1 - beta1) (g - m) ;  v = beta2 v + (1 - beta2) g^2
                        w -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

the arithmetic of torch.optim's own (single-tensor) SGD and Adam, in the same order. The
torch.optim object stays the source of truth for the settings and the state: lr and
momentum are read from its param_groups at every step (Trainer.set_lr changes them
there), and its `state` holds views into the flat moment buffers, so `state_dict()` and
`load_state_dict()` (checkpoints) work as before; state loaded from a file is copied into
the flat buffers at the next step. Settings this file does not implement (weight decay,
Nesterov, AMSGrad, ...) fall back to `optimizer.step()`.
"""

from __future__ import annotations

import torch
from torch import Tensor

_PLAIN = dict(weight_decay=0, dampening=0, nesterov=False, maximize=False, amsgrad=False,
              differentiable=False, fused=None, capturable=False, decoupled_weight_decay=False)


class FusedUpdate:
    """optimizer's update of `params` (views into `flat`, gradients views into `flat_grad`)."""

    def __init__(self, optimizer: torch.optim.Optimizer, params: list[Tensor], flat: Tensor,
                 flat_grad: Tensor) -> None:
        self.optimizer = optimizer
        self.params = params
        self.flat = flat
        self.flat_grad = flat_grad
        self.kind = "adam" if isinstance(optimizer, torch.optim.Adam) else "sgd"
        self._flat_state: dict[str, Tensor] = {}  # "momentum_buffer", "exp_avg", "exp_avg_sq"
        self._views: dict[str, list[Tensor]] = {}
        self._step_t: Tensor | None = None  # Adam's step count, one tensor shared by every param
        self._scratch = torch.empty_like(flat) if self.kind == "adam" else None

    def step(self) -> None:
        group = self.optimizer.param_groups[0]
        if len(self.optimizer.param_groups) != 1 or any(group.get(k, v) != v for k, v in _PLAIN.items()):
            self.optimizer.step()
            return
        with torch.no_grad():
            if self.kind == "sgd":
                self._sgd(group["lr"], group["momentum"])
            else:
                beta1, beta2 = group["betas"]
                self._adam(group["lr"], beta1, beta2, group["eps"])

    def _sgd(self, lr: float, momentum: float) -> None:
        g = self.flat_grad
        if momentum != 0:
            if self._owns("momentum_buffer"):
                buf = self._flat_state["momentum_buffer"]
                first = False
            else:  # the first step, or state loaded from a file
                buf, first = self._adopt("momentum_buffer")
            if first:
                buf.copy_(g)
            else:
                buf.mul_(momentum).add_(g)
            g = buf
        self.flat.add_(g, alpha=-lr)

    def _adam(self, lr: float, beta1: float, beta2: float, eps: float) -> None:
        if not (self._owns("exp_avg") and self._owns("exp_avg_sq") and self._owns_step()):
            self._adopt("exp_avg")
            self._adopt("exp_avg_sq")
            self._adopt_step()
        g = self.flat_grad
        step_t = self._step_t
        step_t += 1
        step = float(step_t)
        m, v = self._flat_state["exp_avg"], self._flat_state["exp_avg_sq"]
        m.lerp_(g, 1 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        bias_correction1 = 1 - beta1**step
        bias_correction2_sqrt = (1 - beta2**step) ** 0.5
        denom = torch.sqrt(v, out=self._scratch).div_(bias_correction2_sqrt).add_(eps)
        self.flat.addcdiv_(m, denom, value=-lr / bias_correction1)

    # ------------------------------------------------------------ the optimizer's state
    def _owns(self, key: str) -> bool:
        """True when optimizer.state holds this file's views for `key` (nothing replaced them)."""
        views = self._views.get(key)
        if views is None:
            return False
        state = self.optimizer.state
        return all(p in state and state[p].get(key) is view for p, view in zip(self.params, views))

    def _adopt(self, key: str) -> tuple[Tensor, bool]:
        """A flat buffer for `key`, filled from the optimizer's state (zeros where it has
        none), whose views then replace the optimizer's tensors; and whether it had none."""
        flat = self._flat_state.get(key)
        if flat is None:
            flat = self._flat_state[key] = torch.zeros_like(self.flat)
        state = self.optimizer.state
        held = [state[p].get(key) if p in state else None for p in self.params]
        fresh = all(t is None for t in held)
        flat.copy_(torch.cat([(torch.zeros_like(p) if t is None else t.detach().to(p)).reshape(-1)
                              for p, t in zip(self.params, held)]))
        views, offset = [], 0
        for p in self.params:
            view = flat[offset : offset + p.numel()].view(p.shape)
            state[p][key] = view
            views.append(view)
            offset += p.numel()
        self._views[key] = views
        return flat, fresh

    def _owns_step(self) -> bool:
        state = self.optimizer.state
        return self._step_t is not None and all(state[p].get("step") is self._step_t for p in self.params)

    def _adopt_step(self) -> None:
        state = self.optimizer.state
        steps = [float(state[p]["step"]) for p in self.params if "step" in state[p]]
        # torch.optim.Adam keeps a float32 CPU tensor per parameter; here one is shared by all
        self._step_t = torch.tensor(max(steps, default=0.0), dtype=torch.float32)
        for p in self.params:
            state[p]["step"] = self._step_t
