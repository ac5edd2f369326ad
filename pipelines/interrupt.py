"""Exit 130 for a Ctrl-C, and its one line: kept free of imports, because the entry point
needs them while everything else may still be importing."""

INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl-C
INTERRUPTED_LINE = "interrupted: nothing was left half-written; rerun the same command to continue"
