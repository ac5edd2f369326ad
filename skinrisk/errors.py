"""The one base class for errors a user can act on.

Commands turn a SkinriskError into its message and exit code 1, without a traceback: the message
itself must name the file, row, key or value at fault and say what to do.
"""


class SkinriskError(Exception):
    """An error caused by input or configuration, explained for the person who can fix it."""
