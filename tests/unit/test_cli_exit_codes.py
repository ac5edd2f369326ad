"""run_app's contract for the two outcomes that are not the command's own: a Ctrl-C (exit 130)
and a command run from the environment that cannot run it (exit 1, one line, which one can)."""

from __future__ import annotations

import pytest
import typer

from pipelines.common import INTERRUPTED, ML_ONLY_PACKAGES, run_app
from tests.conftest import REPO


def _app(error: BaseException) -> typer.Typer:
    app = typer.Typer()
    audit = typer.Typer()
    app.add_typer(audit, name="audit")

    @audit.command("image")
    def image(query: str) -> None:
        raise error

    @app.command("other")
    def other() -> None:
        """A second command, so that the app is a group as `skinrisk` is."""

    return app


def test_a_keyboard_interrupt_exits_130_with_one_line(capsys: pytest.CaptureFixture) -> None:
    assert run_app(_app(KeyboardInterrupt()), ["audit", "image", "x"]) == INTERRUPTED == 130
    err = capsys.readouterr().err
    assert err.strip() == ("interrupted: nothing was left half-written; rerun the same command "
                           "to continue")


def test_an_ml_package_missing_names_the_environment_in_one_line(
        capsys: pytest.CaptureFixture) -> None:
    error = ModuleNotFoundError("No module named 'pyarrow'", name="pyarrow")
    assert run_app(_app(error), ["audit", "image", "PAT_1234_567.png"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "`skinrisk audit image` needs the ml environment (pyarrow is not installed" in err
    assert str(REPO / ".venvs/ml/bin/skinrisk") + " audit image" in err
    assert "PAT_1234" not in err  # arguments are not repeated: a file name can carry an id


def test_a_submodule_of_an_ml_package_counts(capsys: pytest.CaptureFixture) -> None:
    error = ModuleNotFoundError("No module named 'tensorflow.keras'", name="tensorflow.keras")
    assert run_app(_app(error), ["audit", "image", "x"]) == 1
    assert "(tensorflow is not installed" in capsys.readouterr().err


def test_any_other_missing_module_is_a_bug_and_keeps_its_traceback() -> None:
    error = ModuleNotFoundError("No module named 'skinrisk.gone'", name="skinrisk.gone")
    with pytest.raises(ModuleNotFoundError):
        run_app(_app(error), ["audit", "image", "x"])


def test_the_ml_only_packages_are_the_ml_environments_own() -> None:
    """Each is named in requirements/ml.in or comes with a package named there (TensorFlow
    brings keras, TFDV brings Beam, tfx_bsl and tensorflow_metadata), never in airflow.in."""
    airflow = (REPO / "requirements/airflow.in").read_text().lower()
    assert not {p for p in ML_ONLY_PACKAGES if p.replace("_", "-") in airflow}
    assert {"tensorflow", "pyarrow", "cv2", "sklearn", "apache_beam"} <= ML_ONLY_PACKAGES
