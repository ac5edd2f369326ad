"""The `skinrisk` program's entry point (pyproject's console script and `python -m pipelines.cli`).

Only the standard library is imported here: the command tree (pipelines.commands, and the
imports of the stage it runs) is imported inside main, so that a Ctrl-C during those first
seconds ends like one during a command, with exit 130 and one line instead of a traceback.
"""

from __future__ import annotations

import os
import sys
import warnings

from pipelines.interrupt import INTERRUPTED, INTERRUPTED_LINE


def main(argv: list[str] | None = None) -> int:
    # TensorFlow's C++ start-up chatter (no GPU here, CUDA plugins registered twice) buries the
    # tables; real failures still reach the command as Python exceptions.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\..*")
    try:
        from pipelines.commands import build_app
        from pipelines.common import run_app

        args = argv if argv is not None else sys.argv[1:]
        app = build_app(args)
    except KeyboardInterrupt:  # nothing has run yet, so nothing can be half-written
        print(INTERRUPTED_LINE, file=sys.stderr)
        return INTERRUPTED
    return run_app(app, args)


if __name__ == "__main__":
    raise SystemExit(main())
