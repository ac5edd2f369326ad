"""kill -9 at a chosen point of a real `skinrisk` process (tests only; on PYTHONPATH).

SKINRISK_TEST_CRASH="package.module:function:before|after[:N]" wraps that module attribute so
that its Nth call (default 1st) SIGKILLs the process just before or just after it runs: no
exception, no finally, no atexit — a worker lost mid-stage, at a known place.
SKINRISK_TEST_CRASH_PGID=<pgid> kills that process group instead (a server the stage depends
on, with its workers) and lets the stage go on into the outage.
"""

from __future__ import annotations

import functools
import importlib
import os
import signal


def _kill() -> None:
    once = os.environ.get("SKINRISK_TEST_CRASH_ONCE")
    if once:
        try:
            os.close(os.open(once, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
    group = os.environ.get("SKINRISK_TEST_CRASH_PGID")
    if group and group.startswith("@"):
        with open(group[1:]) as named:
            group = named.read().strip()
    if group:
        os.killpg(int(group), signal.SIGKILL)
    else:
        os.kill(os.getpid(), signal.SIGKILL)


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
            _kill()
        result = original(*args, **kwargs)
        if when == "after" and calls == nth:
            _kill()
        return result

    setattr(module, attribute, wrapper)


if os.environ.get("SKINRISK_TEST_CRASH"):
    _install(os.environ["SKINRISK_TEST_CRASH"])
