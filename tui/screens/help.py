"""HelpScreen (`?`): the keys (from tui/keys.py), and what each matrix on screen is."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from gru_core.equations import equations

from ..keys import key_for, keys_markdown

MATRICES = """
## What the matrices pane shows ({form})

The current batch, as the article prints it, at one time step **t** ({k_time_step} move it).
Shapes are in brackets: **B** sequences (at most 4 shown), **H** hidden units, **V**
characters in the vocabulary.

- **input → target**: each sequence's input characters `x` and the characters it
  should predict `y`; the one at time step t is highlighted.
- **h_prev** [B,H]: the hidden state carried into this step.
- **z** = {z}: the update gate, how much of h_prev to keep.
- **r** = {r}: the reset gate, how much of h_prev the candidate sees.
- **h_tilde** = {h_tilde}: the candidate state.
- **h** = {h}: the new hidden state.
- **y_hat** = {y_hat} [B,V]: the predicted probability of each next
  character; the target is marked.
- **term1** = {term1} [B,V], **term2** = {term2} (over the vocabulary) [B],
  **term3** = {term3} [T], **loss** = {loss}: the cross-entropy, term by term.
- **gradients** dL/dWz … dL/dby{bUh} of the whole batch's loss (all B sequences, not only
  those shown): what the next step applies, clipped as it clips them (the header says which step).
- **through time**: ‖dL/dh_t‖ for each t (step t's own loss term plus what flows back
  from later steps) and the mean update gate z per t (how much of the past each step keeps).

`{k_explain}` (or the mouse) points at any number: the panel under the pane shows its equation
with this batch's numbers filled in, and the result.

Small matrices show numbers; large ones a heatmap: red positive, blue negative
(h, h_tilde, gradients), dark to bright yellow from 0 to 1 (z, r, y_hat).

## Seeing the units

After `{k_prime}`, a prime and Enter, the sample streams in, then `{k_colour}` colours it: by
**confidence**, the probability the model gave each character (red 0 … green 1), or by
one **hidden unit**, h[unit] after reading each character (blue -1 … red +1), with the
unit's index and the range it spans. `{k_unit}` step through the units; `{k_top_unit}` jumps to the
ones that swing most over the text (some track quotes, line ends or word boundaries, as
in Karpathy, Johnson and Fei-Fei 2015). `{k_validation}` shows the same view over held-out text.

## The loss chart

Loss per step (cyan), the mean of each epoch (orange), validation loss when part of
the text is held out (magenta), and the loss of guessing uniformly, ln V (grey).
Nats; bits per character = nats / ln 2 (in the status bar).
"""


def threads_markdown(torch_threads: int | None) -> str:
    """How many threads train, and why that many."""
    count = "torch's default number of" if torch_threads is None else f"{torch_threads}"
    plural = "" if torch_threads == 1 else "s"
    return (
        "\n## Speed\n\n"
        f"Training runs on **{count} thread{plural}** (`gru-tui --threads N` to change it). "
        "On a machine with one or two cores the app trains on one, so the screen keeps a core "
        "of its own; on bigger ones, all cores but one. Threads waiting for work sleep rather "
        "than spin, so another busy program slows training by its share of the CPU, not many "
        "times over.\n"
    )


def _matrices_keys() -> dict[str, str]:
    """The keys the matrices text names, from the key table."""
    return {"k_time_step": key_for("time_step", "/"), "k_explain": key_for("explain"),
            "k_prime": key_for("focus_prime"), "k_colour": key_for("colour_mode"),
            "k_unit": key_for("unit", "`/`"), "k_top_unit": key_for("top_unit"),
            "k_validation": key_for("validation_view")}


def help_markdown(torch_threads: int | None = None, reset: str = "before") -> str:
    """The help for the GRU form in use: its equations come from gru_core.equations."""
    eq = {name: text.split(" = ", 1)[-1] for name, text in equations(reset).items()}
    form = ("reset gate before Uh, as the article" if reset == "before"
            else "reset gate after Uh, as torch.nn.GRU")
    return ("# gru-tui help  (escape closes)\n\n## Keys\n\n" + keys_markdown()
            + MATRICES.format(form=form, bUh=" (and dL/dbUh)" if reset == "after" else "", **eq,
                              **_matrices_keys())
            + threads_markdown(torch_threads))


class HelpScreen(ModalScreen[None]):
    AUTO_FOCUS = "#help-body"  # arrows and PageUp/PageDown scroll it at once, no Tab first
    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close"),
        Binding("q", "dismiss", "Close", show=False),
    ]

    def __init__(self, torch_threads: int | None = None, reset: str = "before") -> None:
        super().__init__()
        self.torch_threads = torch_threads
        self.reset = reset

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Markdown(help_markdown(self.torch_threads, self.reset))
