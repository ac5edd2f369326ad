"""`skinrisk batch check`: does a batch in a local landing zone follow the format?"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pipelines.common import PARAMS_OPTION, err, fail, load_params, out, run_app
from skinrisk.batch import (
    BATCH_ID_RULE,
    MANIFEST_NAME,
    READY_MARKER,
    BatchFormatError,
    Problem,
    is_batch_id,
)
from skinrisk.batch_marker import verify_batch
from skinrisk.batch_stats import BatchStats, summarize_rows
from skinrisk.errors import SkinriskError
from skinrisk.storage.landing import LocalBatch
from skinrisk.storage.nofollow import FILE, is_real_folder, read_regular
from skinrisk.taxonomy import Flag, RiskGrade
from skinrisk.vocabulary import ETHNICITY_GROUPS


def check_batch_dir(batch_dir: Path, ethnicity_groups: tuple[str, ...] = ETHNICITY_GROUPS
                    ) -> BatchStats:
    """Read one batch folder and verify manifest, marker and files; raise on any problem.
    Links and special entries are reported, never followed; nothing outside the folder is read."""
    if not is_real_folder(batch_dir):
        raise SkinriskError(f"{batch_dir}: not a folder (a link to a folder is not followed)")
    if not is_batch_id(batch_dir.name):
        raise SkinriskError(f"{batch_dir}: the folder name is not a valid batch id: use "
                            f"{BATCH_ID_RULE}")
    listing = LocalBatch(batch_dir).files()
    for name in (READY_MARKER, MANIFEST_NAME):
        if name not in listing or listing[name].kind != FILE:
            raise SkinriskError(f"{batch_dir}: no {name} as a regular file; a batch is complete "
                                f"only when its producer has written {MANIFEST_NAME} and then "
                                f"{READY_MARKER}")
    odd = [Problem(str(batch_dir), None, None, f"a {info.what} is in the batch; links and "
                   "special files are never followed or read (ingest quarantines them): put "
                   "the photo itself there", subject=name)
           for name, info in listing.items() if info.kind != FILE]
    try:
        rows = verify_batch(read_regular(batch_dir, MANIFEST_NAME),
                            read_regular(batch_dir, READY_MARKER),
                            [n for n, i in listing.items() if i.kind == FILE],
                            where=str(batch_dir), ethnicity_groups=ethnicity_groups)
    except BatchFormatError as exc:
        raise BatchFormatError(odd + exc.problems) from None
    if odd:
        raise BatchFormatError(odd)
    return summarize_rows(rows)


def _message(exc: SkinriskError, show_values: bool) -> str:
    """The error; with --show-values, each problem followed by the name or value it is about
    (for the sender's own terminal: these can be patient ids)."""
    if not show_values or not isinstance(exc, BatchFormatError):
        return str(exc)
    lines = [str(exc).splitlines()[0]]
    for p in exc.problems:
        lines.append(f"  - {p}" + (f"  [{p.subject!r}]" if p.subject is not None else ""))
    return "\n".join(lines)


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
    show_values: Annotated[bool, typer.Option(
        "--show-values", help="Also print the file name or value each problem is about. For "
        "the sender's own terminal only: names and values can hold patient ids.")] = False,
    params_path: Path = PARAMS_OPTION,
) -> int:
    """Check batch folders against the hospital-batch format; exit 1 if any is bad. Problems
    name the manifest line and column, never the value."""
    groups = load_params(params_path).ingest.ethnicity_groups
    good: dict[str, BatchStats] = {}
    bad = 0
    for batch_dir in batch_dirs:
        try:
            good[batch_dir.name] = check_batch_dir(batch_dir, groups)
        except SkinriskError as exc:
            fail(_message(exc, show_values))
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
