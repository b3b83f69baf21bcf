"""The one exception type the command line turns into a single-line message."""


class GenstratError(Exception):
    """A user-facing problem: what is wrong and what to do, in one line.

    The CLI prints ``genstrat: error: <message>`` and exits with status 2; nothing deeper
    than this ever reaches the user as a traceback.
    """
