"""`skinrisk batch check`: does a batch in a local landing zone follow the format?"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pipelines.common import err, fail, out, run_app
from skinrisk.batch import MANIFEST_NAME, READY_MARKER
from skinrisk.batch_marker import verify_batch
from skinrisk.batch_stats import BatchStats, summarize_rows
from skinrisk.errors import SkinriskError
from skinrisk.localfs import list_files
from skinrisk.taxonomy import Flag, RiskGrade


def check_batch_dir(batch_dir: Path) -> BatchStats:
    """Read one batch folder and verify manifest, marker and files; raise on any problem."""
    for name in (READY_MARKER, MANIFEST_NAME):
        if not (batch_dir / name).is_file():
            raise SkinriskError(f"{batch_dir}: no {name}; a batch is complete only when its "
                                f"producer has written {MANIFEST_NAME} and then {READY_MARKER}")
    rows = verify_batch((batch_dir / MANIFEST_NAME).read_bytes(),
                        (batch_dir / READY_MARKER).read_bytes(), list_files(batch_dir),
                        where=str(batch_dir))
    return summarize_rows(rows)


def stats_table(stats: dict[str, BatchStats]) -> Table:
    """One column per batch, one row per count: stays readable in a narrow terminal."""
    table = Table(title="Batches")
    table.add_column("")
    for name in stats:
        table.add_column(name, justify="right")
    rows = {
        "images": lambda s: str(s.images),
        "patients": lambda s: str(s.patients),
        "lesions": lambda s: str(s.lesions),
        **{f"grade {g}": (lambda s, g=g: str(s.by_grade[g])) for g in _GRADES},
        "out of distribution": lambda s: str(s.out_of_distribution),
        **{f"Fitzpatrick {k}": (lambda s, k=k: str(s.by_fitzpatrick.get(k, 0)))
           for k in _FITZPATRICK},
        "pathology verified": lambda s: str(s.pathology_verified),
        **{f"flag {f}": (lambda s, f=f: str(s.by_flag.get(f, 0))) for f in _FLAGS},
    }
    for label, cell in rows.items():
        table.add_row(label, *(cell(s) for s in stats.values()))
    return table


_GRADES = tuple(g.value for g in RiskGrade)
_FITZPATRICK = ("I", "II", "III", "IV", "V", "VI", "unknown")
_FLAGS = tuple(f.value for f in Flag)


def command(
    batch_dirs: Annotated[list[Path], typer.Argument(help="Batch folders to check.",
                                                     exists=True, file_okay=False)],
) -> int:
    """Check batch folders against the hospital-batch format; exit 1 if any is bad."""
    good: dict[str, BatchStats] = {}
    bad = 0
    for batch_dir in batch_dirs:
        try:
            good[batch_dir.name] = check_batch_dir(batch_dir)
        except SkinriskError as exc:
            fail(str(exc))
            bad += 1
    if good:
        out.print(stats_table(good))
    if bad:
        err.print(f"{bad} of {len(batch_dirs)} batch(es) do not follow the format")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    return run_app(command, argv, prog_name="skinrisk batch check")


if __name__ == "__main__":
    raise SystemExit(main())
