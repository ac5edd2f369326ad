"""What every command shares: params loading, consoles, and the error-to-exit-code contract.

Exit codes: 0 ok; 1 failure (a SkinriskError is printed as its message, without a traceback;
so is a command that needs the ml environment run from the orchestrator one); 2 usage error (bad
option or argument, as click reports it); 130 interrupted (Ctrl-C): every output is written to a
temporary file and renamed, so nothing is left half-written and the same command continues.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.console import Console
from rich.text import Text

from pipelines.interrupt import INTERRUPTED, INTERRUPTED_LINE
from skinrisk.config import Params, parse_params
from skinrisk.errors import SkinriskError
from skinrisk.layout import project_root
from skinrisk.localfs import DISK_FULL, DiskFullError
from skinrisk.tracking import is_tracking_error

out = Console()
err = Console(stderr=True)


@contextmanager
def working(what: str) -> Iterator[None]:
    """A spinner naming the slow step under way, on a terminal only (logs stay clean). Output
    of the step is not captured: stdout stays stdout (`skinrisk ... | tee` keeps its lines)."""
    if not err.is_terminal:
        yield
        return
    from rich.live import Live
    from rich.spinner import Spinner

    with Live(Spinner("dots", what), console=err, transient=True, redirect_stdout=False,
              redirect_stderr=False):
        yield

# Installed in the ml environment only (requirements/ml.in, and what TensorFlow and TFDV bring):
# the orchestrator environment imports every command for `--help`, but a command that needs one
# of these cannot run there.
ML_ONLY_PACKAGES = frozenset({
    "apache_beam", "cv2", "keras", "matplotlib", "pyarrow", "scipy", "sklearn", "tensorflow",
    "tensorflow_data_validation", "tensorflow_metadata", "tfx_bsl"})

PARAMS_OPTION = typer.Option(
    Path("params.yaml"), "--params", envvar="SKINRISK_PARAMS", dir_okay=False,
    help="Params file to read; a file may start with `extends: <file>` and override sections.")


def read_params_data(path: Path) -> dict[str, Any]:
    """The raw YAML mapping (for commands that overlay command-line overrides before checking)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SkinriskError(f"{path}: params file not found; run from the repository root or "
                            "pass --params PATH") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise SkinriskError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict) or "extends" not in data:
        return data
    parent = path.parent / str(data.pop("extends"))
    if parent.resolve() == path.resolve():
        raise SkinriskError(f"{path}: `extends` names the file itself")
    return merge_sections(read_params_data(parent), data)


def merge_sections(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Overlay keys replace base keys within each section (the small-run profiles use this)."""
    merged = dict(base)
    for section, values in overlay.items():
        if isinstance(values, dict) and isinstance(base.get(section), dict):
            merged[section] = {**base[section], **values}
        else:
            merged[section] = values
    return merged


def load_params(path: Path, overrides: dict[str, dict[str, Any]] | None = None,
                options: dict[str, str] | None = None) -> Params:
    """The params file with command-line ``overrides`` ({section: {key: value}}) on top. A
    value that fails its check is blamed on its option: ``options`` maps a dotted key to it
    where the name differs from ``--key`` (``{"synth.width": "--size"}``)."""
    overrides = overrides or {}
    data = merge_sections(read_params_data(path), overrides)
    given = {f"{section}.{key}" for section, values in overrides.items() for key in values}
    named = {key: option for key, option in (options or {}).items() if key in given}
    command_line = {key: f"--{key.partition('.')[2].replace('_', '-')}" for key in given}
    return parse_params(data, str(path), {**command_line, **named})


def fail(message: str) -> None:
    # soft_wrap: one line in a log or a pipe (rich would break it at 80 columns there)
    err.print(Text("error: ", style="bold red") + Text(message), soft_wrap=True)


def run_app(app: typer.Typer | Callable[..., Any], argv: Sequence[str] | None = None,
            prog_name: str = "skinrisk") -> int:
    """Run a Typer app (or a single command function) and map its outcome to an exit code."""
    if not isinstance(app, typer.Typer):
        single = typer.Typer(add_completion=False)
        single.command()(app)
        app = single
    command = typer.main.get_command(app)
    args = list(argv) if argv is not None else sys.argv[1:]
    try:
        result = command.main(args=args, prog_name=prog_name, standalone_mode=False)
    except KeyboardInterrupt:  # typer turns one inside a command into exit 130; this is the rest
        result = INTERRUPTED
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] not in ML_ONLY_PACKAGES:
            raise
        fail(_needs_ml(command, args, prog_name, exc.name or ""))
        return 1
    except typer.Abort:
        fail("aborted")
        return 1
    except typer.TyperException as exc:  # usage errors (exit 2) and e.g. an unreadable file (1)
        exc.show()
        return exc.exit_code
    except SkinriskError as exc:
        fail(str(exc))
        return 1
    except OSError as exc:  # a write outside atomic_write (a library's): same advice
        if exc.errno not in DISK_FULL:
            raise
        fail(str(DiskFullError(exc.filename)))
        return 1
    except Exception as exc:
        if is_tracking_error(exc):
            fail(_tracking_failure(exc))
        elif type(exc).__module__.startswith("psycopg"):
            fail(_database_failure(exc))
        else:
            raise
        return 1
    if result == INTERRUPTED:  # no command returns 130 itself: typer's word for a Ctrl-C
        err.print(INTERRUPTED_LINE, highlight=False, soft_wrap=True)
    return result if isinstance(result, int) else 0


def _needs_ml(command: Any, args: list[str], prog_name: str, module: str) -> str:
    """Which environment runs this command, in one line (the arguments are not repeated: a
    file name a hospital sent can be one)."""
    words = prog_name.split()[1:]  # `skinrisk ingest` when a stage runs on its own
    for arg in args:  # the subcommand words: a group's `commands` (typer vendors click)
        command = getattr(command, "commands", {}).get(arg)
        if command is None:
            break
        words.append(arg)
    name = " ".join(["skinrisk", *words])
    root = project_root()
    ml_bin = root / ".venvs" / "ml" / "bin" / "skinrisk" if root else None
    where = (f"{ml_bin} {' '.join(words)}".rstrip() if ml_bin and ml_bin.is_file() else
             "the ml environment's skinrisk (requirements/ml.lock)")
    return (f"`{name}` needs the ml environment ({module.partition('.')[0]} is not installed "
            f"in this one): run it as {where}, with the same arguments")


def _database_failure(exc: Exception) -> str:
    """A metadata-database error (the server restarted, a grant missing) as one actionable
    line. Only the server's primary message: its DETAIL can quote a key's values, and those are
    a hospital's (a patient id in the identity map)."""
    import os
    import re

    from skinrisk.records import DATABASE_URL_VARIABLE
    from skinrisk.records.connection import describe

    url = os.environ.get(DATABASE_URL_VARIABLE)
    where = describe(url) if url else "(no URL)"
    diag = getattr(exc, "diag", None)
    # Without a server message (a connection lost), psycopg's own text, minus any credentials.
    primary = (getattr(diag, "message_primary", None) or re.sub(
        r"(://[^@/\s]*@)|(password=\S+)", "", str(exc).strip().split("\n")[0])
        or type(exc).__name__)[:300]
    state = getattr(exc, "sqlstate", None) or ""
    if state == "42501":  # insufficient_privilege
        advice = ("this task's database login lacks a grant it needs: ingest runs as a member "
                  "of skinrisk_ingest, the other tasks as skinrisk_pipeline, `db setup` as the "
                  "database's owner (docs/environment.md)")
    elif state in ("42P01", "3F000"):  # undefined table, undefined schema
        advice = "the database has not been set up: run `skinrisk db setup`, then rerun"
    else:
        advice = ("what the task had committed stays (surrogates, ledger entries and a batch "
                  "are each written in one transaction or commit), the rest was not written. "
                  "Rerun when the server answers again")
    return f"the metadata database {where} failed: {primary} ({type(exc).__name__}); {advice}"


def _tracking_failure(exc: Exception) -> str:
    """An MLflow error (a server down, a timeout) as one actionable message, not a traceback."""
    import os
    import re

    uri = os.environ.get("MLFLOW_TRACKING_URI", "the local MLflow store")
    where = re.sub(r"//[^/@]*@", "//", uri)  # never print credentials in a URI
    text = str(exc).strip()
    first = text.splitlines()[0][:600] if text else type(exc).__name__
    unreachable = re.search(r"API request|Max retries|Connection|timed out|503|502", text)
    advice = ("Rerun when it answers again: training resumes from its last checkpoint and its "
              "MLflow run, evaluation registers nothing twice, and a promotion whose alias move "
              "did not happen is applied then" if unreachable else
              "This is not an outage: fix what the message names, then rerun")
    return f"MLflow ({where}) failed: {first}. {advice}"
