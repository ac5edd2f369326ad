"""Ingest: hospital batches into the immutable, de-identified, content-addressed raw zone.

plan.py decides, from the manifest and the file listing alone, what happens to every row and
file; records.py builds the rows the raw zone stores; runner.py drives the adapters (landing
zone, raw zone, private store) through one batch, exactly once.
"""
