"""The app's panes, one widget per module. Each renders from a Snapshot and nothing else."""
