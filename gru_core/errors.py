"""The one exception type for every mistake a user can make."""


class GRUError(ValueError):
    """A user-facing error: says what was wrong, the value given, and what would work.

    Anything a person can cause (a bad config value, a prime with unknown characters,
    an unreadable file, a checkpoint that does not fit) raises this type, so the CLI
    and the app can show its message in one line instead of a traceback.
    """


class Cancelled(Exception):
    """A step was stopped part-way by its cancel event; the weights were not touched.

    Not a GRUError: nobody made a mistake, the caller asked for the stop."""
