"""kill -9 at a chosen point of a real `skinrisk` process (tests only; on PYTHONPATH).

SKINRISK_TEST_CRASH="package.module:function:before|after[:N]" wraps that module attribute so
that its Nth call (default 1st) SIGKILLs the process just before or just after it runs: no
exception, no finally, no atexit — a worker lost mid-stage, at a known place.
"""

from __future__ import annotations

import functools
import importlib
import os
import signal


def _install(spec: str) -> None:
    module_name, attribute, when, *count = spec.split(":")
    nth = int(count[0]) if count else 1
    module = importlib.import_module(module_name)
    original = getattr(module, attribute)
    calls = 0

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        nonlocal calls
        calls += 1
        if when == "before" and calls == nth:
            os.kill(os.getpid(), signal.SIGKILL)
        result = original(*args, **kwargs)
        if when == "after" and calls == nth:
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(module, attribute, wrapper)


if os.environ.get("SKINRISK_TEST_CRASH"):
    _install(os.environ["SKINRISK_TEST_CRASH"])
