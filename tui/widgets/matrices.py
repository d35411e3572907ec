"""MatricesView: the current batch as the article prints it, one time step t at a time.

For time step t: the input and target characters of each sequence, h_prev, the gates z
and r, h_tilde, h, y_hat (with the vocabulary), the three cross-entropy terms, and the
gradients of the last step. Everything comes from the Snapshot's trace and grads,
CPU copies the training thread never writes again.

Cost: the whole text is hundreds of lines of coloured cells, and Textual renders all of
a Static's content whenever it changes. So the Static holds only the lines near the
visible ones (padding stands in for the rest, keeping the scroll height), and while
training runs the pane is rebuilt at most once every RUNNING_REDRAW_S; a change of state,
of t or of size is drawn at once.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widgets import Static

from gru_core.equations import equations

from .matrix_text import MAX_HEATMAP_ROWS, Extent, MatrixWriter, char_label
from .throttle import RedrawThrottle

if TYPE_CHECKING:
    from gru_core.session import Snapshot

RUNNING_REDRAW_S = 1.0  # while training runs, the pane is rebuilt at most this often
WINDOW_MARGIN = 20  # lines drawn above and below the visible ones, so scrolling rarely re-windows

GRAD_ORDER = ("Wz", "Wr", "Wh", "Uz", "Ur", "Uh", "bz", "br", "bh", "bUh", "Wy", "by")



class MatricesView(VerticalScroll, can_focus=False):
    """The matrices pane. Left/right (app keys) move the time step `t`."""

    COMPONENT_CLASSES = {"matrices--body"}

    # repaint=False: a new snapshot arrives several times a second; redraw() updates the body when it draws
    snapshot: reactive[Snapshot | None] = reactive(None, always_update=True, repaint=False)
    t: reactive[int] = reactive(0)  # time step shown, 0-based

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._writer = MatrixWriter(80)  # the text last drawn, line by line
        self._window: tuple[int, int] | None = None  # the lines the Static holds
        self._throttle = RedrawThrottle(self, self.redraw)
        self._draw_cost = 0.0  # seconds the last redraw() took

    def compose(self) -> ComposeResult:
        yield Static("", id="matrices-body", classes="matrices--body")

    @property
    def plain(self) -> str:
        """The text last drawn, for tests and screen readers."""
        writer = self._writer
        return "\n".join(line.plain for line in writer.lines_text(0, len(writer.lines)))

    @property
    def steps(self) -> int:
        trace = self.snapshot.trace if self.snapshot is not None else None
        return int(trace.x.shape[0]) if trace is not None else 0

    def move(self, delta: int) -> None:
        if self.steps:
            self.t = (self.t + delta) % self.steps

    def validate_t(self, t: int) -> int:
        return max(0, min(t, self.steps - 1)) if self.steps else 0

    def watch_snapshot(self, old: Snapshot | None, new: Snapshot | None) -> None:
        self.t = self.validate_t(self.t)
        # At least RUNNING_REDRAW_S apart, and far enough apart that redrawing (about twice
        # what redraw() itself takes, with Textual's strips) stays under ~5% of the time.
        self._throttle.request(old, new, max(RUNNING_REDRAW_S, 40 * self._draw_cost))

    def watch_t(self) -> None:
        self.redraw()

    def on_resize(self) -> None:
        self.redraw()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self._window is None:
            return
        start, stop = self._window
        top, height = int(new_value), self.scrollable_content_region.height
        if (start > 0 and top < start) or (stop < len(self._writer.lines) and top + height > stop):
            self._show_window()

    def redraw(self) -> None:
        self._throttle.drawn()
        self._writer = self.write(max(40, self.scrollable_content_region.width or 80))
        self._show_window()
        self._draw_cost = time.monotonic() - self._throttle.last

    def _show_window(self) -> None:
        """Put the lines near the visible ones in the Static, blank lines for the rest."""
        total = len(self._writer.lines)
        top, height = int(self.scroll_y), self.scrollable_content_region.height or 50
        start = max(0, top - WINDOW_MARGIN)
        stop = min(total, top + height + WINDOW_MARGIN)
        self._window = (start, stop)
        shown = Text("\n", no_wrap=True, overflow="crop").join(self._writer.lines_text(start, stop))
        body = self.query_one("#matrices-body", Static)
        padding = (start, 0, max(0, total - 1 - stop), 0)  # blank rows: cheap to draw
        # A layout pass re-renders the whole screen: only when the pane's height changes.
        rows = stop - start
        same_height = padding == getattr(self, "_padding", None) and rows == getattr(self, "_rows", None)
        if not same_height:
            body.styles.padding = padding
        self._padding, self._rows = padding, rows
        body.update(shown, layout=not same_height)

    def render_text(self, width: int) -> Text:
        return self.write(width).text

    def write(self, width: int) -> MatrixWriter:
        snap = self.snapshot
        out = MatrixWriter(width)
        if snap is None or snap.trace is None:
            out.heading("matrices: waiting for the model")
            return out
        tr, vocab, t = snap.trace, snap.vocab, self.t
        T, B = int(tr.x.shape[0]), int(tr.x.shape[1])
        H, V = int(tr.h.shape[-1]), len(vocab)
        x, y = tr.x.tolist(), tr.y.tolist()  # [T, B]
        seqs = [f"seq {b + 1}" for b in range(B)]
        eq = equations(snap.config.reset)
        # batch and step of the trace itself: a running big model reuses an older trace
        out.heading(f"batch {snap.trace_batch + 1}/{snap.num_batches} (before step {snap.trace_step + 1})"
                    f"   time step t = {t + 1} of {T} (←/→)")
        out.heading(f"B = {snap.config.batch_size} ({B} shown)   H = {H}   V = {V}", style="dim")
        for b in range(B):
            line = Text()
            for name, ids in (("x ", [x[s][b] for s in range(T)]), ("  y ", [y[s][b] for s in range(T)])):
                line.append(name, "dim")
                for s, i in enumerate(ids):
                    line.append(char_label(vocab[i]), "bold reverse" if s == t else "")
            out.line("input → target" if b == 0 else "", seqs[b], line)

        def rows(tensor) -> list[tuple[str, list[float]]]:
            return list(zip(seqs, tensor[t].tolist()))

        for name in ("h_prev", "z", "r", "h_tilde", "h"):
            kind = "sequential" if name in ("z", "r") else "diverging"
            note = eq[name] if name != "h_prev" else "carried in"
            out.block(f"{name} [{B},{H}]", rows(getattr(tr, name)), kind=kind, note=note)
        targets = [y[t][b] for b in range(B)]
        out.block(f"y_hat [{B},{V}]", rows(tr.y_hat), kind="sequential", header=vocab, highlight=targets,
                  note=eq["y_hat"] + " (target marked)")
        out.block(f"term1 [{B},{V}]", rows(tr.term1), kind="diverging", header=vocab, highlight=targets,
                  note="term1 = y ⊙ log(y_hat)")
        out.block(f"term2 [{B}]", [(s, [v]) for s, v in zip(seqs, tr.term2[t].tolist())],
                  note="term2 = Σ_v term1")
        term3 = tr.term3.tolist()
        out.block(f"term3 [{T}]", [("all t", term3)], highlight=[t],
                  note="term3 = −mean_b term2, one per t")
        out.line("loss", "", Text(f"{float(tr.loss):.4f}   = mean over t of term3", "bold"))
        out.newline()
        self._gradients(out, snap)
        return out

    def _gradients(self, out: MatrixWriter, snap: Snapshot) -> None:
        if not snap.grads:
            out.heading("gradients of the last step: none yet (n trains one batch)")
            return
        out.heading(f"gradients of the last step (step {snap.step}), dL/dθ")
        vocab = snap.vocab
        for name in GRAD_ORDER:
            g = snap.grads.get(name)
            if g is None:
                continue
            shape = list(g.shape)
            absmax = float(g.abs().max()) if g.numel() else 0.0
            small = absmax < 0.01
            extent = None
            if g.dim() == 2 and not out.fits(shape[1]):  # a heatmap shows the first rows only
                extent = Extent(shape[0], float(g.min()), float(g.max()), absmax)
                g = g[:MAX_HEATMAP_ROWS]
            values = g.tolist()
            label = f"d{name} [{','.join(str(n) for n in shape)}]"
            if g.dim() == 1:
                header = vocab if name == "by" else None
                out.block(label, [("", values)], header=header, small=small)
            elif name.startswith("W") and name != "Wy":  # [V, H]: a row per input character
                out.block(label, [(f"'{char_label(c)}'", row) for c, row in zip(vocab, values)], small=small,
                          extent=extent)
            elif name == "Wy":  # [H, V]
                out.block(label, [(f"h{k + 1}", row) for k, row in enumerate(values)], header=vocab,
                          small=small, extent=extent)
            else:  # U [H, H]
                out.block(label, [(f"h{k + 1}", row) for k, row in enumerate(values)], small=small,
                          extent=extent)
