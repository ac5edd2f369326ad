from pathlib import Path

import pytest
import yaml

from skinrisk.config import ParamsError, SynthParams, parse_params
from skinrisk.defects import Defect

REPO = Path(__file__).resolve().parents[2]


def test_the_repository_params_file_validates() -> None:
    params = parse_params(yaml.safe_load((REPO / "params.yaml").read_text()))
    assert params.synth.defect_rates[Defect.CORRUPT] > 0
    assert params.synth.width == 160


def test_missing_sections_take_defaults_and_objects_are_frozen() -> None:
    params = parse_params({})
    assert params.synth == SynthParams()
    with pytest.raises(Exception, match="frozen"):
        params.synth.images = 3  # type: ignore[misc]


@pytest.mark.parametrize(("data", "fragment"), [
    ({"synth": {"imagez": 10}}, "synth.imagez: unknown key"),
    ({"sytnh": {}}, "sytnh: unknown key"),
    ({"synth": {"width": 8}}, "synth.width: Input should be greater than or equal to 32 (got 8)"),
    ({"synth": {"difficulty": 1.5}}, "synth.difficulty"),
    ({"synth": {"images_per_lesion": [3, 1]}}, "images_per_lesion must be [min, max]"),
    ({"synth": {"tumor_types": ["wart"]}}, "unknown tumor type(s) ['wart']"),
    ({"synth": {"defect_rates": {"smudge": 0.1}}}, "synth.defect_rates.smudge"),
    ({"synth": {"defect_rates": {"blur": 2}}}, "rates must be between 0 and 1"),
    ({"synth": {"image_format": "gif"}}, "synth.image_format"),
    ({"import_pad": {"limit": 0}}, "import_pad.limit"),
])
def test_invalid_params_name_the_key_and_the_problem(data: dict, fragment: str) -> None:
    with pytest.raises(ParamsError) as raised:
        parse_params(data, "params.yaml")
    assert str(raised.value).startswith("params.yaml is not valid")
    assert fragment in str(raised.value)


def test_the_top_level_must_be_a_mapping() -> None:
    with pytest.raises(ParamsError, match="must be a mapping"):
        parse_params(["synth"])  # type: ignore[arg-type]


def test_a_bad_command_line_value_is_blamed_on_its_option_not_the_file() -> None:
    with pytest.raises(ParamsError) as caught:
        parse_params({"synth": {"images": 0}}, "params.yaml", {"synth.images": "--images"})
    message = str(caught.value)
    assert message.startswith("the command line is not valid")
    assert "--images (sets synth.images)" in message and "params.yaml" not in message


def test_file_and_command_line_errors_together_name_both() -> None:
    with pytest.raises(ParamsError) as caught:
        parse_params({"synth": {"images": 0, "seed": -1, "difficulty": 3}}, "p.yaml",
                     {"synth.images": "--images"})
    lines = str(caught.value).splitlines()
    assert lines[0] == "p.yaml and the command line are not valid; fix these keys and options:"
    assert any(line.startswith("  - --images (sets synth.images):") for line in lines)
    assert any(line.startswith("  - synth.difficulty:") for line in lines)


def test_load_params_names_the_option_that_set_a_key(tmp_path: Path) -> None:
    from pipelines.common import load_params

    path = tmp_path / "params.yaml"
    path.write_text("synth:\n  images: 10\n")
    with pytest.raises(ParamsError, match=r"--limit \(sets import_pad.limit\)"):
        load_params(path, {"import_pad": {"limit": -5}})
    with pytest.raises(ParamsError, match=r"--size \(sets synth.width\)"):
        load_params(path, {"synth": {"width": 1}}, {"synth.width": "--size"})
    assert load_params(path, {"synth": {"images": 12}}).synth.images == 12
    # An option that was not given is never blamed: the file's own bad value is the file's.
    path.write_text("synth:\n  width: 5\n")
    with pytest.raises(ParamsError) as caught:
        load_params(path, {"synth": {"images": 12}}, {"synth.width": "--size"})
    message = str(caught.value)
    assert message.startswith(f"{path} is not valid") and "--size" not in message
