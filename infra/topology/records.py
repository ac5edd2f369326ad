"""The stack's skinrisk metadata database (identity map, ledger, locks) and its logins.

`skinrisk_records_<suffix>` is created with the stack's other databases and set up by
`skinrisk db setup` as the server URL's user (compose: the `skinrisk-db-setup` job, as the
database's owner). Each worker then gets a LOGIN role of its own, a member of the group role
its tasks need (processes.LOGIN_GROUPS), as compose's skinrisk_ingest_login and
skinrisk_pipeline_login. Roles are cluster-wide: the logins carry the stack's suffix and are
dropped at teardown; the group roles belong to the migrations, shared by every skinrisk
database on the server, and stay.
"""

from __future__ import annotations

import subprocess

from infra.topology.processes import AF_BIN, LOGIN_GROUPS, ML_BIN, REPO, Topology, base_env
from skinrisk.errors import SkinriskError

# Run in the orchestrator environment (psycopg2), as the stack's other admin statements.
_ROLES = r"""
import sys, psycopg2
action, server, *pairs = sys.argv[1:]
db = psycopg2.connect(server.rstrip("/") + "/postgres")
db.autocommit = True
with db.cursor() as cur:
    for pair in pairs:
        login, _, group = pair.partition("=")
        if action == "create":
            cur.execute(f'CREATE ROLE "{login}" LOGIN IN ROLE "{group}"')
        else:
            cur.execute(f'DROP ROLE IF EXISTS "{login}"')
"""


def _run(what: str, argv: list[str]) -> None:
    result = subprocess.run(argv, cwd=REPO, env=base_env(), capture_output=True, text=True,
                            check=False)
    if result.returncode != 0:
        raise SkinriskError(f"{what} failed: {(result.stdout + result.stderr).strip()[-2000:]}")


def set_up(top: Topology) -> None:
    """Apply the migrations, then create one login per worker (recorded for teardown)."""
    _run("skinrisk db setup", [str(ML_BIN / "skinrisk"), "db", "setup", "--admin-url",
                               top.records_url()])
    pairs = [f"{top.login(worker)}={group}" for worker, group in LOGIN_GROUPS.items()]
    top.roles = [top.login(worker) for worker in LOGIN_GROUPS]
    top.save()  # before creating them: a failure half-way still drops what was made
    _run("creating the workers' database logins",
         [str(AF_BIN / "python"), "-c", _ROLES, "create", top.postgres, *pairs])


def drop_logins(top: Topology) -> None:
    """Drop the stack's logins (after its databases: nothing of theirs is left then)."""
    if top.roles:
        _run("dropping the workers' database logins",
             [str(AF_BIN / "python"), "-c", _ROLES, "drop", top.postgres, *top.roles])
        top.roles = []
        top.save()
