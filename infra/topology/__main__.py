"""`python -m infra.topology up|down` (orchestrator environment): `make topology` and
`make topology-down`."""

from __future__ import annotations

import argparse
import logging
import shutil
import signal
import sys
import time
from pathlib import Path

from infra.topology.processes import Topology, plan
from infra.topology.stack import describe, down, up
from skinrisk.errors import SkinriskError
from skinrisk.layout import state_home


def _fresh(state: Path) -> None:
    """A stack's folder from an earlier stack is emptied (its databases and S3 went with it)."""
    if not state.exists():
        return
    if (state / "state.json").is_file():
        if Topology.load(state).pids:
            raise SkinriskError(f"a running stack is recorded in {state}: `make topology-down`"
                                " first")
        shutil.rmtree(state)
    elif any(state.iterdir()):
        raise SkinriskError(f"{state} holds files that are not a stack's; choose --state-dir")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.topology", description=__doc__)
    parser.add_argument("action", choices=["up", "down"])
    parser.add_argument("--state-dir", type=Path, default=state_home() / "topology",
                        help="where the stack keeps its state, logs and secrets")
    parser.add_argument("--params", default="params-small.yaml")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--detach", action="store_true",
                        help="return once up (tear down later with `down`)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        if args.action == "down":
            down(Topology.load(args.state_dir))
            print(f"topology: torn down ({args.state_dir})")
            return 0
        _fresh(args.state_dir)
        top = up(plan(args.state_dir, args.params, args.postgres, args.redis))
    except SkinriskError as exc:
        print(f"topology: {exc}", file=sys.stderr)
        return 1
    print(describe(top))
    if args.detach:
        return 0
    print("Ctrl-C tears it all down.")
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("topology: tearing down")
        down(top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
