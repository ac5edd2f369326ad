"""Stage commands: the I/O edge where the skinrisk library meets files, params and services.

One module per stage (the same name in dvc.yaml, params.yaml, Airflow task ids and MLflow tags),
each with ``main(argv) -> int``; ``pipelines.commands`` gathers them into the ``skinrisk``
command, whose entry point is ``pipelines.cli``.
"""
