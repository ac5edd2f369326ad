"""`skinrisk retrain-check`: is the current dataset version worth a training run?

Prints one JSON line last (the Airflow task's XCom, read by the retrain DAG's short-circuit).
"""

from __future__ import annotations

import json
from pathlib import Path

from pipelines.common import PARAMS_OPTION, load_params, out, run_app
from skinrisk.layout import StateLayout
from skinrisk.retrain import check
from skinrisk.tracking import CHAMPION, MODEL_NAME
from skinrisk.tracking import client as tracking_client
from skinrisk.versioning.checkout import TRAINING_INPUTS, checkout_version
from skinrisk.versioning.current import current_version
from skinrisk.versioning.tools import git


def command(params_path: Path = PARAMS_OPTION) -> None:
    """Compare training images now with those of the champion's dataset version."""
    from skinrisk.promotion.registry import alias_version

    params = load_params(params_path).retrain
    layout = StateLayout.from_env()
    # Clone mode: the newest version, and the split and shard index it checks (whole shards:
    # DVC pulls a directory output whole); every tag's git files.
    checkout_version(layout, TRAINING_INPUTS)
    version = current_version(layout)
    client = tracking_client(layout)
    number = alias_version(client, CHAMPION)
    champion_tag = None
    if number is not None:
        champion_tag = (client.get_model_version(MODEL_NAME, number).tags or {}).get(
            "data.version")
    trained = client.search_model_versions(
        f"name='{MODEL_NAME}' and tag.`data.version` = '{version.tag}'")
    current = _train_images(layout, version.tag)
    before = _train_images(layout, champion_tag) if champion_tag else None
    result = check(version.tag, current, champion_tag, before, params.min_new_images,
                   str(trained[0].version) if trained else None)
    out.print(f"retrain-check: {'train' if result.retrain else 'skip'}: {result.why}")
    print(json.dumps(result.to_dict()))


def _train_images(layout: StateLayout, tag: str) -> int:
    summary = json.loads(git(layout.workspace, "show", f"{tag}:data/splits/summary.json"))
    return int(summary["images"]["train"])


def main(argv: list[str] | None = None) -> int:
    return run_app(command, argv, prog_name="skinrisk retrain-check")


if __name__ == "__main__":
    raise SystemExit(main())
