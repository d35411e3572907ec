"""tui: the gru-tui Textual app. It shows what gru_core publishes and holds no math."""
