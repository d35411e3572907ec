"""What widgets draw with, and not widgets themselves: text building (matrix_text), the redraw
throttle, and the loss chart's axes (chart_axes) and braille curves (chart_curves)."""
