"""Benchmarks of gru-tui: `python -m tests.benchmarks` (see __main__.py for the flags).

Every figure is measured side by side in one run, interleaved, as the median of several
repeats: the machines this runs on are shared and noisy, so compare ratios, not times.
"""
