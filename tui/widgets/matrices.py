"""MatricesView: the current batch as the article prints it, one time step t at a time,
and where each of its numbers comes from.

For time step t: the input and target characters of each sequence, h_prev, the gates z
and r, h_tilde, h, y_hat (with the vocabulary), the three cross-entropy terms, the loss
and the gradients of this batch's loss. Everything comes from one Snapshot: its trace,
and its detail (the weights the trace was computed with, and its backward pass), CPU
copies the training thread never writes again. The header names that trace's batch and
step, not the live counters.

    MatrixLines     the matrices, on Textual's Line API (tui/widgets/matrix_lines.py):
                    render_line draws only the visible lines, and every number is a cell
                    the cursor and the mouse can select
    #matrices-time  ‖dL/dh_t‖ and the mean update gate per time step, under the matrices
    #matrices-explain  the selected cell's equation with its numbers (gru_core.explain)

Cursor mode (x, or a click) moves focus to the lines: arrows move the cell cursor there,
while outside it ←/→ step the time step t. Hovering a cell selects it too.

Cost: a new snapshot rewrites the lines (plain lists, heatmap rows built only when
shown); drawing a frame renders the visible lines only, each cached until the next
rewrite. While training runs the text is rewritten at most once every RUNNING_REDRAW_S;
a change of state, of t or of size is drawn at once.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.text import Span, Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.reactive import reactive
from textual.widgets import Static

from gru_core.equations import Cell, equations
from gru_core.formatting import char_cell, char_quoted, fixed, setting, significant

from ..keys import key_for
from ..render.matrix_text import MAX_HEATMAP_ROWS, Extent, HeatColours, MatrixWriter, Run
from ..render.throttle import RedrawThrottle
from .matrix_lines import MatrixLines

if TYPE_CHECKING:
    from gru_core.explain import Explainer
    from gru_core.session import Snapshot

RUNNING_REDRAW_S = 2.0  # while training runs, the pane is rebuilt this often (README: at least every 2 s)
GRAD_ORDER = ("Wz", "Wr", "Wh", "Uz", "Ur", "Uh", "bz", "br", "bh", "bUh", "Wy", "by")
SPARK = "▁▂▃▄▅▆▇█"
CURSOR_HINT = (f"{key_for('explain')}: point at any number (arrows, mouse) to see its equation with "
               "this batch's numbers")


class MatricesView(Vertical):
    """The matrices pane. Left/right (app keys) move the time step `t`; x enters cursor mode."""

    # the heatmap's colours, from the theme: a value of 0 is the pane's background
    COMPONENT_CLASSES = {"matrices-view--positive", "matrices-view--negative", "matrices-view--high"}
    DEFAULT_CSS = """
    MatricesView > .matrices-view--positive { background: $error; }
    MatricesView > .matrices-view--negative { background: $primary; }
    MatricesView > .matrices-view--high { background: $warning; }
    MatricesView #matrices-time {
        height: auto;
        color: $text-muted;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    /* an explanation gets a fixed height (a third of the pane, 5 to 12 rows), so the
       lines above never jump, and scrolls: its first line (the title, with the result)
       shows at once and the rest is a scroll away; the hint before any selection takes
       only its own lines */
    MatricesView #matrices-explain {
        height: 33%;
        min-height: 5;
        max-height: 12;
        border-top: hkey $accent;
        overflow-y: auto;
        scrollbar-size-vertical: 1;
    }
    MatricesView #matrices-explain.-hint {
        height: auto;
        min-height: 0;
    }
    MatricesView #matrices-explain-text {
        height: auto;
    }
    """

    # repaint=False: a new snapshot arrives several times a second; redraw() updates the body when it draws
    snapshot: reactive[Snapshot | None] = reactive(None, always_update=True, repaint=False)
    t: reactive[int] = reactive(0)  # time step shown, 0-based

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._throttle = RedrawThrottle(self, self.redraw)
        self._draw_cost = 0.0  # seconds the last redraw() took
        self._explainer: tuple[int, Explainer] | None = None  # (id of the trace, its explainer)
        self._drawn: Snapshot | None = None  # the snapshot the lines show
        self._texts: dict[str, Text] = {}  # what each Static below the lines shows
        self._grad_lines: tuple[tuple, MatrixWriter] | None = None  # ((detail id, width, colours), lines)

    def compose(self) -> ComposeResult:
        yield MatrixLines(id="matrices-lines")
        yield Static("", id="matrices-time")
        with VerticalScroll(id="matrices-explain", classes="-hint"):
            yield Static(CURSOR_HINT, id="matrices-explain-text")

    @property
    def lines(self) -> MatrixLines:
        return self.query_one(MatrixLines)

    @property
    def plain(self) -> str:
        """The text last drawn, for tests and screen readers."""
        writer = self.lines.writer
        return "\n".join(line.plain for line in writer.lines_text(0, len(writer.lines)))

    @property
    def explanation(self) -> str:
        return str(self.query_one("#matrices-explain-text", Static).render())

    @property
    def through_time(self) -> str:
        return str(self.query_one("#matrices-time", Static).render())

    @property
    def steps(self) -> int:
        trace = self.snapshot.trace if self.snapshot is not None else None
        return int(trace.x.shape[0]) if trace is not None else 0

    def move(self, delta: int) -> None:
        if self.steps:
            self.t = (self.t + delta) % self.steps

    def enter_cursor(self) -> None:
        self.lines.enter()

    def validate_t(self, t: int) -> int:
        return max(0, min(t, self.steps - 1)) if self.steps else 0

    def watch_snapshot(self, old: Snapshot | None, new: Snapshot | None) -> None:
        self.t = self.validate_t(self.t)
        # Every RUNNING_REDRAW_S while training runs, as README promises: a redraw takes
        # 10-20 ms at the fitted size (under 3% of a core, Textual's strips included). It was
        # stretched to 150 times the last redraw's cost, and on a loaded machine (70 ms) the
        # pane lagged the status line by 10 s, 527 steps.
        self._throttle.request(old, new, RUNNING_REDRAW_S)

    def heat_colours(self) -> HeatColours:
        def rgb(name: str) -> tuple[int, int, int]:
            colour = self.get_component_styles(name).background
            return (colour.r, colour.g, colour.b)

        zero = self.background_colors[1]  # what the pane is drawn on (the theme's, under its CSS)
        return HeatColours((zero.r, zero.g, zero.b), rgb("matrices-view--positive"),
                           rgb("matrices-view--negative"), rgb("matrices-view--high"))

    def notify_style_update(self) -> None:
        """The theme changed: the heatmaps take its colours (after the component classes do)."""
        super().notify_style_update()
        if self.is_mounted:
            self.call_after_refresh(self._restyle)

    def _restyle(self) -> None:
        if self.is_mounted and self.lines.writer.colours != self.heat_colours():
            self.redraw()

    def watch_t(self) -> None:
        self.redraw()

    def on_resize(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        if not self.is_mounted:
            return
        self._throttle.drawn()
        lines = self.lines
        self._drawn = self.snapshot
        lines.show(self.write(max(40, lines.scrollable_content_region.width or 80)))
        self._update("#matrices-time", wraps=False, text=self.through_time_text(lines.size.width or 48))
        self._draw_cost = time.monotonic() - self._throttle.last

    # ------------------------------------------------------------- explanation
    def on_matrix_lines_selected(self, event: MatrixLines.Selected) -> None:
        text = self.explain(event.cell)
        panel = self.query_one("#matrices-explain", VerticalScroll)
        hint = text.plain == CURSOR_HINT
        if panel.has_class("-hint") != hint:  # the panel's height changes
            panel.set_class(hint, "-hint")
        self._update("#matrices-explain-text", text)
        panel.scroll_home(animate=False, immediate=True)  # the title, with the result, in view

    def _update(self, selector: str, text: Text, wraps: bool = True, fixed: bool = False) -> None:
        """Update a Static only when its text changes: a layout pass re-renders the whole
        screen, so ask for one only when the height may change (never for a fixed height;
        for a text that does not wrap, when its number of lines does)."""
        old = self._texts.get(selector)
        if old != text:
            self._texts[selector] = text
            same_height = fixed or (not wraps and old is not None
                                    and old.plain.count("\n") == text.plain.count("\n"))
            self.query_one(selector, Static).update(text, layout=not same_height)

    def explain(self, cell: Cell | None) -> Text:
        snap = self._drawn
        if cell is None or snap is None or snap.trace is None or snap.detail is None:
            return Text(CURSOR_HINT, "dim italic")
        from gru_core.explain import Explainer  # torch is loaded: a snapshot exists

        if self._explainer is None or self._explainer[0] != id(snap.trace):
            self._explainer = (id(snap.trace), Explainer(snap.trace, snap.detail, snap.vocab))
        e = self._explainer[1].explain(cell)
        out = Text(e.title, "bold")
        for line in e.lines:
            out.append("\n" + line)
        return out

    def through_time_text(self, width: int) -> Text:
        """‖dL/dh_t‖ and mean z per time step, as sparklines (max-binned to the width)."""
        snap = self.snapshot
        detail = snap.detail if snap is not None else None
        if detail is None:
            return Text("")
        norms, zs = detail.dh_norm.tolist(), detail.mean_z.tolist()
        T = len(norms)
        caption = f"through time, t = 1…{T}"
        # the sparklines run t1 → tT, left to right (the loss's gradient flows right to left)
        order = f"(t1 at the left, t{T} at the right)"
        gap = " " if len(caption) + 1 + len(order) <= width else "\n"  # a narrow pane: two lines, none cut
        out = Text(f"{caption}{gap}{order}\n", "bold")
        norm_ends = f" t1 {significant(norms[0])}  t{T} {significant(norms[-1])}"
        span = max(8, width - 10 - len(norm_ends))  # the ends stay whole (`t64 4.9…` was cut)
        out.append("‖dL/dh_t‖ ")
        out.append(sparkline(norms, span, top=max(norms) or 1.0))
        out.append(norm_ends + "\n")
        out.append("mean z    ")
        out.append(sparkline(zs, span, top=1.0))
        out.append(f" t1 {fixed(zs[0], 2)}  t{T} {fixed(zs[-1], 2)}")
        return out

    # ------------------------------------------------------------- the lines
    def render_text(self, width: int) -> Text:
        return self.write(width).text

    def write(self, width: int) -> MatrixWriter:
        snap = self.snapshot
        out = MatrixWriter(width, self.heat_colours())
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
        # (←/→ is in the border title; this line must fit the pane's 46 columns)
        out.heading((f"batch {snap.trace_batch + 1}/{snap.num_batches} (before step {snap.trace_step + 1})",
                     f"t = {t + 1} of {T}"))
        out.heading(f"B = {snap.config.batch_size} ({B} shown)   H = {H}   V = {V}", style="dim")
        labels = [char_cell(c) for c in vocab]  # one character each
        # a long T shows a window of each string around t (… where cut), so that step t's
        # marked character is always in view
        k = min(T, max(3, (out.cells - len("x   y ")) // 2))
        s0 = min(max(0, t - k // 2), T - k)

        def window(rows: list[list[int]], b: int) -> str:
            chars = [labels[row[b]] for row in rows[s0:s0 + k]]
            if s0 > 0:
                chars[0] = "…"
            if s0 + k < T:
                chars[-1] = "…"
            return "".join(chars)

        for b in range(B):  # "x Mat  y ath", step t marked in both: one string and four spans
            xs, ys = window(x, b), window(y, b)
            y0, at_t = 2 + k + 4, t - s0
            marked = "bold reverse"
            spans = [Span(0, 2, "dim"), Span(2 + at_t, 3 + at_t, marked),
                     Span(2 + k, y0, "dim"), Span(y0 + at_t, y0 + at_t + 1, marked)]
            line = Text(f"x {xs}  y {ys}", spans=spans)
            out.line("input → target" if b == 0 else "", seqs[b], line)

        def rows(tensor) -> list[tuple[str, list[float]]]:
            return list(zip(seqs, tensor[t].tolist()))

        def at(name: str):
            return lambda i, j: Cell(name, t, i, j)

        # h_prev's note names the step it is of: "(carried in at t = 1)" beside t = 2 was wrong
        eq["h_prev"] = ("h_prev: h carried into the batch" if t == 0
                        else f"h_prev: h of the step before, t = {t}")
        for name in ("h_prev", "z", "r", "h_tilde", "h"):
            kind = "sequential" if name in ("z", "r") else "diverging"
            out.block(f"{name} [{B},{H}]", rows(getattr(tr, name)), kind=kind, note=eq[name], cell=at(name))
        targets = [y[t][b] for b in range(B)]
        out.block(f"y_hat [{B},{V}]", rows(tr.y_hat), kind="sequential", header=vocab, highlight=targets,
                  note=eq["y_hat"] + " (target marked)", cell=at("y_hat"))
        out.block(f"term1 [{B},{V}]", rows(tr.term1), kind="diverging", header=vocab, highlight=targets,
                  note=eq["term1"], cell=at("term1"))
        out.block(f"term2 [{B}]", [(s, [v]) for s, v in zip(seqs, tr.term2[t].tolist())],
                  note=eq["term2"], cell=at("term2"))
        term3 = tr.term3.tolist()
        out.block(f"term3 [{T}]", [("all t", term3)], highlight=[t], note=eq["term3"],
                  cell=lambda i, j: Cell("term3", t, 0, j))
        loss = fixed(float(tr.loss))
        out.line("loss", "", Text(f"{loss}   = mean over t of term3", "bold"),
                 cells=Run(0, len(loss), 1, 0, 0, lambda i, j: Cell("loss")))
        out.newline()
        key = (id(snap.detail), out.width, out.colours)  # the gradients do not change with t: written once
        if self._grad_lines is None or self._grad_lines[0] != key:
            grads = MatrixWriter(width, out.colours)
            self._gradients(grads, snap)
            self._grad_lines = (key, grads)
        out.extend(self._grad_lines[1])
        return out

    def _gradients(self, out: MatrixWriter, snap: Snapshot) -> None:
        detail = snap.detail
        grads = (detail.applied if detail.applied is not None else detail.grads) if detail is not None else {}
        if not grads:
            out.heading("gradients: not computed for this batch")
            return
        B = detail.batch_size or snap.config.batch_size
        out.heading(f"gradients step {snap.trace_step + 1} applies: dL/dθ of this batch's loss, "
                    f"all {B} sequences")
        if detail.clip_scale != 1.0:
            out.heading(f"(clipped: ‖dL/dθ‖ {significant(detail.grad_norm)} scaled by "
                        f"{fixed(detail.clip_scale)} to the clip {setting(detail.clip)})", style="dim")
        vocab = snap.vocab
        for name in GRAD_ORDER:
            g = grads.get(name)
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
            cell = (lambda i, j, n="d" + name: Cell(n, 0, i, j))
            if g.dim() == 1:
                header = vocab if name == "by" else None
                out.block(label, [("", values)], header=header, small=small, cell=cell)
            elif name.startswith("W") and name != "Wy":  # [V, H]: a row per input character
                out.block(label, [(char_quoted(c), row) for c, row in zip(vocab, values)], small=small,
                          extent=extent, cell=cell)
            elif name == "Wy":  # [H, V]
                out.block(label, [(f"h{k + 1}", row) for k, row in enumerate(values)], header=vocab,
                          small=small, extent=extent, cell=cell)
            else:  # U [H, H]
                out.block(label, [(f"h{k + 1}", row) for k, row in enumerate(values)], small=small,
                          extent=extent, cell=cell)


def sparkline(values: list[float], width: int, top: float) -> str:
    """One block character per time step (the largest of each bin when there are more)."""
    if not values:
        return ""
    bins = min(len(values), width)
    out = []
    for k in range(bins):
        part = values[k * len(values) // bins:(k + 1) * len(values) // bins] or [values[-1]]
        v = max(part) / top if top > 0 else 0.0
        out.append(SPARK[max(0, min(len(SPARK) - 1, int(v * (len(SPARK) - 1) + 0.5)))])
    return "".join(out)
