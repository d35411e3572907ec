"""The Trainer: truncated BPTT over the batches of a text, one batch per step.

The hidden state is carried from batch to batch and detached (the article's loop kept
the whole history in the graph, retaining it at every backward, and crashes on current torch).
It restarts from zeros at each epoch.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .bptt import manual_step
from .config import TrainConfig
from .data import Vocab, make_batches
from .errors import Cancelled, GRUError
from .formatting import setting
from .forward import Trace, forward_loss, forward_nll, forward_trace
from .fused_update import FusedUpdate
from .model import GRUModel
from .sampling import sample
from .schedule import lr_factor
from .threads import check_threads, training_threads


class TrainingDiverged(GRUError):
    """The loss or the gradients stopped being finite numbers; the step was not taken."""


@dataclass(frozen=True)
class StepRecord:
    step: int  # 1-based count of optimizer steps taken
    epoch: int  # 0-based epoch the batch belongs to
    batch: int  # batch index within the epoch
    loss: float
    grad_norm: float  # before clipping
    seconds: float


def resolve_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise GRUError("device 'cuda' was asked for but no CUDA GPU is available; use --device cpu")
    return torch.device(name)


class Trainer:
    """Owns the data, the model and the optimizer of one run.

    Single-threaded: use a Trainer from one thread at a time (TrainingSession drives one
    from its worker thread). Two threads stepping one Trainer at once would corrupt its
    tensors and could crash torch, so a second concurrent step() raises GRUError instead.

    threads: torch's intra-op threads for the steps, set in the stepping thread before its
    first step. "auto" (the default) follows gru_core.threads.training_threads, the policy
    the app and the CLI use (1 on a 1-2 core machine, where torch's default of 2 spinning
    threads runs at a third of the speed and collapses beside any other busy process);
    a number sets it; None leaves torch's setting alone.

    The learning rate of step s is config.lr x lr_factor(config.lr_schedule, s,
    schedule_steps) x lr_scale (gru_core/schedule.py); schedule_steps is the run's plan,
    config.epochs x num_batches, fixed when the run is made (continuing a finished run does
    not move it), and lr_scale is what the divergence guard has halved it to.
    """

    def __init__(self, config: TrainConfig, *, threads: int | str | None = "auto") -> None:
        if threads == "auto":
            threads = training_threads()
        elif threads is not None:
            threads = check_threads(threads, "threads")
        self.threads: int | None = threads
        self._stepping = threading.Lock()
        # Held while the weights change: the update, its finite check and a rollback, and
        # restore_best. copy_model() takes it, so another thread never copies a half update.
        self.weights_lock = threading.Lock()
        try:
            self._build(config)
        except (MemoryError, RuntimeError) as exc:
            raise _out_of_memory(exc, config) or exc from None

    def _build(self, config: TrainConfig) -> None:
        self.config = config
        self.device = resolve_device(config.device)
        self.dtype = torch.float64 if config.dtype == "float64" else torch.float32
        self.vocab = Vocab(config.vocab_chars)
        split = config.train_chars
        # Compact indices (1 byte a character for V <= 256): the text's batches and the
        # held-out streams cost ~3 bytes a character in all; `batch(i)` widens one batch.
        encoded = self.vocab.encode_compact(config.text[:split])
        X, Y = make_batches(encoded, config.batch_size, config.seq_len, config.layout)
        del encoded
        self.X, self.Y = X.to(self.device), Y.to(self.device)  # [N, T, B]
        self.val_X = self.val_Y = self.val_mask = None  # [L, S] held-out streams
        val_chars = len(config.text) - split
        if val_chars >= 2:
            vX, vY, mask = validation_streams(self.vocab.encode_compact(config.text[split:]))
            self.val_X, self.val_Y = vX.to(self.device), vY.to(self.device)
            self.val_mask = mask.to(self.device)
        # Why validation that was asked for is not done (None: it is done, or was not asked).
        self.val_note: str | None = None
        if config.val_fraction and self.val_X is None:
            self.val_note = (
                f"validation off: the held-out part is {val_chars} characters "
                f"({setting(config.val_fraction)} of {len(config.text)}), too few to score one "
                f"prediction (2 are needed); give more text or raise val_fraction"
            )
        # The best validation loss so far, and a copy of the weights that scored it.
        self.best_val: float | None = None
        self.best_step = 0
        self.best_state: dict[str, Tensor] | None = None
        self.checks_since_best = 0  # validation checks since the best one
        self.model = GRUModel(
            self.vocab.size, config.hidden_size, reset=config.reset, init=config.init,
            seed=config.seed, dtype=self.dtype, device=self.device,
        )
        params = self.model.parameters()
        if config.optimizer == "sgd":
            self.optimizer: torch.optim.Optimizer = torch.optim.SGD(
                params, lr=config.lr, momentum=config.momentum
            )
        else:
            self.optimizer = torch.optim.Adam(params, lr=config.lr)
        # The gradients, like the weights, are views into one flat tensor, so the norm, the
        # clipping, the update, the finite check and the backup are one operation each.
        flat = self.model.flat
        self.flat_grad = torch.zeros_like(flat)
        self._grad_views = _views_like(self.flat_grad, params)
        self._update = FusedUpdate(self.optimizer, params, flat, self.flat_grad)
        self._weights_backup = torch.empty_like(flat)  # the weights before an update, for a rollback
        self._last_flat_grad = torch.zeros_like(flat)  # the last good step's gradients
        self._last_grad_views = _views_like(self._last_flat_grad, params)
        self.h = self.model.zero_state(config.batch_size)  # carried between batches
        self.schedule_steps = config.epochs * self.num_batches
        self.lr_scale = 1.0  # the divergence guard halves it at each recovery
        self.step_count = 0
        self.epoch = 0
        self.batch_index = 0
        self._last_grads: dict[str, Tensor] | None = {}
        self._last_grad_tensors: tuple[Tensor | None, ...] = ()
        self.sample_generator = torch.Generator().manual_seed(config.seed)
        self.cancel_event: threading.Event | None = None  # set it to stop a step part-way
        self.apply_lr()

    # ------------------------------------------------------------ facts
    @property
    def num_batches(self) -> int:
        return self.X.shape[0]

    def batch(self, i: int) -> tuple[Tensor, Tensor]:
        """Inputs and targets of batch i, [T, B] int64 indices (stored compact)."""
        return self.X[i].long(), self.Y[i].long()

    @property
    def val_chars(self) -> int:
        """How many held-out characters validation scores (all but the first, which only
        serves as an input)."""
        return 0 if self.val_mask is None else int(self.val_mask.sum())

    @property
    def chars_per_step(self) -> int:
        return self.config.batch_size * self.config.seq_len

    @property
    def uniform_loss(self) -> float:
        """ln V: the loss of a model that guesses every character equally likely."""
        return math.log(self.vocab.size)

    @property
    def lr(self) -> float:
        """The learning rate the next update uses (config.lr as the schedule and guard scale it)."""
        return float(self.optimizer.param_groups[0]["lr"])

    def lr_at(self, step: int) -> float:
        """The learning rate of 0-based step `step` (see the class docstring)."""
        cfg = self.config
        return cfg.lr * lr_factor(cfg.lr_schedule, step, self.schedule_steps) * self.lr_scale

    def apply_lr(self) -> None:
        """Set the optimizer to the rate of the next step (lr_at(step_count))."""
        lr = self.lr_at(self.step_count)
        for group in self.optimizer.param_groups:
            if group["lr"] != lr:
                group["lr"] = lr

    def set_lr(self, lr: float) -> None:
        """Set config.lr, the rate the schedule scales, from the next update on; safe from any
        thread (it waits for an update under way). With the constant schedule and no guard
        recovery, that is the rate of the next update.

        GRUError, and nothing changes, if lr is not a valid learning rate: TrainConfig's
        rule is the one check on the way from a form or a caller to the optimizer.
        """
        config = self.config.replace(lr=lr)
        with self.weights_lock:
            self.config = config
            self.apply_lr()

    # ------------------------------------------------------------ the guard's copies
    def good_state(self) -> dict[str, Any]:
        """A copy of what a divergence would spoil: the weights, the optimizer's moments and
        the learning rate, with the step they belong to (restore_good puts them back)."""
        with self.weights_lock:
            return {
                "step": self.step_count,
                "model": {k: v.detach().clone() for k, v in self.model.state_dict().items()},
                "optimizer": copy.deepcopy(self.optimizer.state_dict()),
                "lr": self.config.lr,
            }

    def restore_good(self, state: dict[str, Any], lr_scale: float) -> None:
        """Put back a good_state() and scale the learning rate by lr_scale from now on.

        The step count carries on (the schedule does not go back); the hidden state carried
        between batches belonged to the spoiled weights, so it restarts from zeros.
        """
        with torch.no_grad(), self.weights_lock:
            self.model.load_state_dict({k: v.clone() for k, v in state["model"].items()})
            self.optimizer.load_state_dict(copy.deepcopy(state["optimizer"]))
            self.config = self.config.replace(lr=state["lr"])
            self.lr_scale = lr_scale
            self.apply_lr()
        self.h = self.model.zero_state(self.config.batch_size)

    # ------------------------------------------------------------ training
    def step(self) -> StepRecord:
        """One batch: forward, backward, clip, update; the hidden state carries on."""
        if not self._stepping.acquire(blocking=False):
            raise GRUError("this Trainer is already taking a step on another thread; a Trainer is "
                           "single-threaded: step it from one thread (or use a TrainingSession)")
        try:
            if self.threads is not None and torch.get_num_threads() != self.threads:
                torch.set_num_threads(self.threads)  # in this thread, before its first op
            self.apply_lr()
            record = self._step()
            self.apply_lr()  # `lr` says what the next step will use
            return record
        except (MemoryError, RuntimeError) as exc:
            raise _out_of_memory(exc, self.config) or exc from None
        finally:
            self._stepping.release()

    def _step(self) -> StepRecord:
        t0 = time.perf_counter()
        cfg = self.config
        i = self.batch_index
        if i == 0:
            self.h = self.model.zero_state(cfg.batch_size)
        x, y = self.batch(i)
        params = self.model.parameters()
        for p, view in zip(params, self._grad_views):
            if p.grad is not view:  # someone set .grad (None, a tensor of their own): back to the view
                p.grad = view
        cancel = self.cancel_event
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        if cfg.backward == "manual":
            loss, h_T = manual_step(self.model, x, y, self.h, cancel)  # overwrites .grad itself
        else:
            self.flat_grad.zero_()  # autograd adds into .grad
            loss, h_T = forward_loss(self.model, x, y, self.h, cancel)
            loss.backward()
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        grad_norm = torch.linalg.vector_norm(self.flat_grad)
        if self.flat_grad.is_cpu:
            loss_value, norm_value = float(loss.detach()), float(grad_norm)
        else:  # the loss and the norm in one tensor: one sync for both
            loss_value, norm_value = torch.stack([loss.detach().to(grad_norm.dtype), grad_norm]).tolist()
        if not math.isfinite(loss_value) or not math.isfinite(norm_value):
            what = "loss" if not math.isfinite(loss_value) else "gradient norm"
            bad = loss_value if what == "loss" else norm_value
            raise TrainingDiverged(
                f"{what} became {_name_nonfinite(bad)} at step {self.step_count + 1}; "
                f"lower the learning rate (now {setting(self.lr)}) or turn on clipping "
                f"(now {setting(cfg.clip)}); the weights of the last good step are kept"
            )
        if cfg.clip > 0 and norm_value > cfg.clip:
            self.flat_grad.mul_(cfg.clip / (norm_value + 1e-6))
        flat, backup = self.model.flat, self._weights_backup
        backup.copy_(flat)
        with self.weights_lock:
            self._update.step()
            # Finite weights have a finite sum of |w| (one op for all, one sync); it overflows
            # only past 3e38, where the weights are lost anyway.
            weights_sum = float(torch.linalg.vector_norm(flat, 1))
            if not math.isfinite(weights_sum):
                flat.copy_(backup)
        if not math.isfinite(weights_sum):
            raise TrainingDiverged(
                f"weights became infinite at step {self.step_count + 1}; lower the learning "
                f"rate (now {setting(self.lr)}); the weights of the last good step are kept"
            )
        self.h = h_T.detach()
        # Named views of the gradients are built when someone reads them (most steps, no one).
        self._last_flat_grad.copy_(self.flat_grad)
        self._last_grad_tensors, self._last_grads = self._last_grad_views, None
        self.step_count += 1
        record = StepRecord(
            step=self.step_count, epoch=self.epoch, batch=i, loss=loss_value,
            grad_norm=norm_value, seconds=time.perf_counter() - t0,
        )
        self.batch_index += 1
        if self.batch_index == self.num_batches:
            self.batch_index = 0
            self.epoch += 1
        return record

    def run_epoch(self) -> list[StepRecord]:
        """The rest of the current epoch (all of it when called at an epoch start)."""
        records = [self.step()]
        while self.batch_index != 0:
            records.append(self.step())
        return records

    @property
    def last_grads(self) -> dict[str, Tensor]:
        """The last step's gradients by article name (dWz is last_grads["Wz"], and so on)."""
        if self._last_grads is None:
            self._last_grads = self._grads_by_name(self._last_grad_tensors)
        return self._last_grads

    @last_grads.setter
    def last_grads(self, grads: dict[str, Tensor]) -> None:
        self._last_grads = dict(grads)

    def _grads_by_name(self, grads: tuple[Tensor | None, ...]) -> dict[str, Tensor]:
        """Article-named views of the gradients of model.parameters(), in that order."""
        m = self.model
        H = m.hidden_size
        if m.reset == "after":
            gW, gU, gb, gbUh, gWy, gby = grads
        else:
            (gW, gU, gb, gWy, gby), gbUh = grads, None
        out = {}
        for k, gate in enumerate("zrh"):
            cols = slice(k * H, (k + 1) * H)
            out[f"W{gate}"] = gW[:, cols]
            out[f"U{gate}"] = gU[:, cols]
            out[f"b{gate}"] = gb[cols]
        out["Wy"], out["by"] = gWy, gby
        if m.reset == "after":
            out["bUh"] = gbUh
        return out

    # ------------------------------------------------------------ looking inside
    @torch.no_grad()
    def forward_batch(self, i: int = 0, h0: Tensor | None = None) -> Trace:
        """The trace of batch i from a zero hidden state (or h0); the weights stay as they are."""
        if not 0 <= i < self.num_batches:
            raise GRUError(f"batch index must be from 0 to {self.num_batches - 1}; got {i}")
        h = self.model.zero_state(self.config.batch_size) if h0 is None else h0
        return forward_trace(self.model, *self.batch(i), h)

    @torch.no_grad()
    def evaluate(self, cancel: threading.Event | None = None) -> float | None:
        """Mean cross-entropy over every held-out character (None without a held-out part).

        The held-out text is read as S contiguous streams side by side (wide: one
        forward over [T, S] at a time), each from a zero hidden state; every character
        after the first is predicted once, and the figure is the mean of
        -ln y_hat[target] over all of them (VALIDATION_STREAM_CHARS says how long a
        stream is). The weights and the training state are not touched.
        """
        if self.val_X is None:
            return None
        h = self.model.zero_state(self.val_X.shape[1])
        total = torch.zeros((), dtype=torch.float64, device=self.device)
        for t in range(0, self.val_X.shape[0], VALIDATION_CHUNK):
            x = self.val_X[t:t + VALIDATION_CHUNK].long()
            y = self.val_Y[t:t + VALIDATION_CHUNK].long()
            nll, h = forward_nll(self.model, x, y, h, cancel)  # [T, S]
            total += (nll.double() * self.val_mask[t:t + VALIDATION_CHUNK]).sum()
        return float(total) / self.val_chars

    def record_val(self, val: float) -> bool:
        """Note a validation loss; True (and a copy of the weights kept) when it is a new best."""
        if self.best_val is None or val < self.best_val:
            self.best_val, self.best_step, self.checks_since_best = val, self.step_count, 0
            self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            return True
        self.checks_since_best += 1
        return False

    def validate(self, cancel: threading.Event | None = None) -> float | None:
        """evaluate() and record_val() in one: the validation loss, best weights kept."""
        val = self.evaluate(cancel)
        if val is not None:
            self.record_val(val)
        return val

    @property
    def out_of_patience(self) -> bool:
        """config.patience validation checks in a row without a new best (never when 0)."""
        return bool(self.config.patience) and self.checks_since_best >= self.config.patience

    def restore_best(self) -> int:
        """Put the best-validation weights back; the step they were kept at.

        The optimizer's moments and the step count carry on; the hidden state carried
        between batches belonged to the replaced weights, so it restarts from zeros.
        GRUError when no validation has been scored yet.
        """
        if self.best_state is None:
            raise GRUError("no best weights yet: they are kept at each validation check, "
                           "which needs a validation share (val_fraction > 0)")
        with torch.no_grad(), self.weights_lock:
            self.model.load_state_dict({k: v.clone() for k, v in self.best_state.items()})
        self.h = self.model.zero_state(self.config.batch_size)
        return self.best_step

    def copy_model(self) -> GRUModel:
        """A copy of the weights, safe to take from any thread while another one steps.

        The update, its finite check and a rollback happen under weights_lock, so the copy
        is always of the weights of a good step (it waits at most for one update).
        """
        with self.weights_lock:
            return self.model.detached_copy()

    def sample(
        self, prime: str, n: int, temperature: float = 1.0, *, top_k: int | None = None,
        generator: torch.Generator | None = None, on_char=None,
    ) -> str:
        """prime + n characters; temperature 0 is argmax."""
        gen = self.sample_generator if generator is None else generator
        return sample(
            self.model, self.vocab, prime, n, temperature, top_k=top_k, generator=gen,
            on_char=on_char,
        ).text


VALIDATION_STREAM_CHARS = 256  # each validation stream reads at least this many characters
VALIDATION_MAX_STREAMS = 256  # read side by side, one [T, S] forward at a time
VALIDATION_CHUNK = 64  # time steps per forward (and between looks at the cancel event)


def validation_streams(encoded: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The held-out text as S streams side by side: inputs, targets [L, S] and a mask.

    Stream s reads targets s*L .. (s+1)*L - 1 of the n - 1 predictions the text holds
    (the last stream is shorter: the mask is False past its end, where 0s pad it).
    S = min(256, (n - 1) // 256), at least 1.
    """
    n_pred = encoded.numel() - 1
    S = max(1, min(VALIDATION_MAX_STREAMS, n_pred // VALIDATION_STREAM_CHARS))
    L = -(-n_pred // S)
    pad = S * L - n_pred
    x = torch.cat([encoded[:-1], encoded.new_zeros(pad)]).reshape(S, L).T.contiguous()
    y = torch.cat([encoded[1:], encoded.new_zeros(pad)]).reshape(S, L).T.contiguous()
    mask = torch.cat([torch.ones(n_pred, dtype=torch.bool), torch.zeros(pad, dtype=torch.bool)])
    return x, y, mask.reshape(S, L).T.contiguous()


def _views_like(flat: Tensor, params: list[Tensor]) -> tuple[Tensor, ...]:
    """Views into `flat` shaped like `params`, which lie in it one after the other."""
    views, offset = [], 0
    for p in params:
        views.append(flat[offset : offset + p.numel()].view(p.shape))
        offset += p.numel()
    return tuple(views)


def _name_nonfinite(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return "infinite" if value > 0 else "-infinite"


def _out_of_memory(exc: BaseException, config: TrainConfig) -> GRUError | None:
    """A GRUError for an allocation that failed (CPU or GPU), None for any other error."""
    text = str(exc)
    if not (isinstance(exc, MemoryError) or isinstance(exc, torch.OutOfMemoryError)
            or "can't allocate memory" in text or "out of memory" in text.lower()):
        return None
    return GRUError(
        f"not enough memory for this model on {config.device}: hidden {config.hidden_size}, "
        f"batch {config.batch_size} x seq_len {config.seq_len}, {len(config.text):,} characters "
        f"of text; lower hidden, batch or seq_len"
    )
