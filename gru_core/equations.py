"""The text of the article's equations for the GRU form in use, and the name of one number
of the pane (`Cell`). No torch: the app draws these before torch has loaded.

The matrices pane, the help screen and the explanations (gru_core/explain.py) all take
their equation text from `equations(reset)`, so reset="after" never shows the
reset-before h_tilde.
"""

from __future__ import annotations

from dataclasses import dataclass

FORMS = ("before", "after")


def equations(reset: str) -> dict[str, str]:
    """The article's equation for each matrix of the pane, in the form `reset` names."""
    if reset not in FORMS:
        raise ValueError(f"reset must be one of {', '.join(FORMS)}; got {reset!r}")
    h_tilde = ("h_tilde = tanh(x Wh + (r⊙h_prev) Uh + bh)" if reset == "before"
               else "h_tilde = tanh(x Wh + bh + r⊙(h_prev Uh + bUh))")
    return {
        "h_prev": "h_prev: h of the step before (carried in at t = 1)",
        "z": "z = σ(x Wz + h_prev Uz + bz)",
        "r": "r = σ(x Wr + h_prev Ur + br)",
        "h_tilde": h_tilde,
        "h": "h = z⊙h_prev + (1−z)⊙h_tilde",
        "y_hat": "y_hat = softmax(h Wy + by)",
        "term1": "term1 = y ⊙ log(y_hat)",
        "term2": "term2 = Σ_v term1",
        "term3": "term3 = −mean_b term2, one per t",
        "loss": "loss = mean over t of term3",
    }


@dataclass(frozen=True)
class Cell:
    """One number of the pane: a matrix by its article name, the time step, row and column.

    Indices count from 0 here; explanations print units and hidden rows from 1, as the
    pane labels them (seq 1, h1).

    Activations (h_prev, z, r, h_tilde, h: row = sequence, col = unit; y_hat, term1:
    col = character; term2: col 0; term3: col = t; loss) are at time step t. A gradient
    ("dWz" … "dby") is over the whole batch: row, col index the matrix (a bias: col).
    """

    name: str
    t: int = 0
    row: int = 0
    col: int = 0
