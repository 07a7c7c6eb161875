"""The one exception type for mistakes a user can make (flags, files, data)."""


class ReproError(Exception):
    """A user-caused problem. The message says what was wrong and how to fix it.

    The CLI prints it as a single line (or paragraph, where the fix needs one)
    and exits with code 2, never with a traceback.
    """
