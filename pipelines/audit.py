"""`skinrisk audit ...`: the ledger's integrity (more audit commands: issue 9)."""

from __future__ import annotations

from pipelines.common import fail, out, run_app
from skinrisk.layout import StateLayout
from skinrisk.ledger import ledger_path, verify


def verify_command() -> int:
    """Check the hash chain; name the first bad entry; exit 1 if any."""
    path = ledger_path(StateLayout.from_env())
    verdict = verify(path)
    if not verdict.ok:
        fail(f"{path}: entry {verdict.first_bad} of {verdict.entries}: {verdict.why}")
        return 1
    out.print(f"audit: {path}: {verdict.entries} entries, chain intact")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_app(verify_command, argv, prog_name="skinrisk audit verify")


if __name__ == "__main__":
    raise SystemExit(main())
