"""What widgets draw with, and not widgets themselves: text building (matrix_text) and the redraw throttle."""
