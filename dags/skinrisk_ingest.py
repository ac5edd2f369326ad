"""
### skinrisk_ingest — hospital batches into a new dataset version

Every half hour (and on demand): list the landing zone's ready batches not yet ingested, ingest
each (one mapped task per batch), score quality over the dataset, validate each new batch with
TFDV, split by patient, pack the training shards, and make the dataset version `data-vN`
(DVC + git tag, pushed). The version task publishes the **skinrisk/curated** asset; its event
extra carries the tag, the commit and the DVC hashes, and `skinrisk_retrain` is scheduled on it.

Nothing here decides anything: each task runs the stage command dvc.yaml runs
(`skinrisk <stage>`), in the ml environment. Writers of the raw zone and of the DVC/git
workspace share the one-slot `skinrisk_data_writes` pool. A batch that fails validation is left
out of the split (fail closed) and named in the validation report; a run with nothing pending
skips everything after the listing.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import dag, task
from skinrisk_common import (
    CURATED,
    DATA_WRITES_POOL,
    OWNER,
    default_args,
    json_last_line,
    skinrisk,
    stage_task_args,
)

STAGE = stage_task_args()


@dag(
    dag_id="skinrisk_ingest",
    schedule="*/30 * * * *",
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["skinrisk", "data"],
    doc_md=__doc__,
    owner_links={OWNER: "https://github.com/skinrisk/skinrisk/blob/main/infra/README.md"},
)
def skinrisk_ingest():
    @task.bash(output_processor=json_last_line, execution_timeout=dt.timedelta(minutes=10),
               **STAGE)
    def pending() -> str:
        return skinrisk("batch", "pending")

    @task.short_circuit
    def anything_new(batches: list[str]) -> bool:
        return bool(batches)

    @task.bash(pool=DATA_WRITES_POOL, execution_timeout=dt.timedelta(hours=2), **STAGE)
    def ingest(batch: str) -> str:
        return skinrisk("ingest", "--batch", batch)

    @task.bash(pool=DATA_WRITES_POOL, execution_timeout=dt.timedelta(hours=4), **STAGE)
    def quality() -> str:
        return skinrisk("quality")

    # validate exits 1 when a batch fails: the run fails loudly; split leaves that batch out.
    @task.bash(execution_timeout=dt.timedelta(hours=2), **STAGE)
    def validate(batch: str) -> str:
        return skinrisk("validate", "--batch", batch)

    @task.bash(pool=DATA_WRITES_POOL, execution_timeout=dt.timedelta(minutes=30),
               trigger_rule="all_done", **STAGE)
    def split() -> str:
        return skinrisk("split")

    @task.bash(pool=DATA_WRITES_POOL, execution_timeout=dt.timedelta(hours=2), **STAGE)
    def pack() -> str:
        return skinrisk("pack")

    @task.bash(pool=DATA_WRITES_POOL, output_processor=json_last_line,
               execution_timeout=dt.timedelta(hours=1), **STAGE)
    def version() -> str:
        return skinrisk("version", "--json")

    @task(outlets=[CURATED])
    def publish(made: dict, *, outlet_events=None) -> dict:
        """The curated-dataset asset event: which version, and its DVC hashes."""
        extra = {"tag": made["tag"], "commit": made["commit"], "created": made["created"],
                 "shards_md5": made["shards_md5"], "splits_md5": made["splits_md5"]}
        outlet_events[CURATED].extra = extra
        return extra

    batches = pending()
    ingested = ingest.expand(batch=batches)
    anything_new(batches) >> ingested
    scored = quality()
    ingested >> scored
    validated = validate.expand(batch=batches)
    scored >> validated
    split_done = split()
    validated >> split_done
    packed = pack()
    split_done >> packed
    made = version()
    packed >> made
    publish(made)


skinrisk_ingest()
