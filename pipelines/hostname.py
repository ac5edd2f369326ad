"""`[core] hostname_callable` for Airflow workers that share a machine: the hostname a task
instance records (and the UI and `airflow tasks` show) is the worker's own name,
SKINRISK_WORKER_NAME, else the machine's fully qualified name (Airflow's default).

Set AIRFLOW__CORE__HOSTNAME_CALLABLE=pipelines.hostname.worker_hostname and give each worker
its name; the local production topology (infra/topology) runs both workers on one machine this
way. A compose worker or a pod has a hostname of its own and needs neither.
"""

from __future__ import annotations

import os
import socket


def worker_hostname() -> str:
    return os.environ.get("SKINRISK_WORKER_NAME") or socket.getfqdn()
