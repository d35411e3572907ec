"""The app's screens: help, error details, and the path and replace dialogs."""
