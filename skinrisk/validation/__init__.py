"""Validation: TFDV statistics, a curated schema, and drift against the dataset so far.

features.py turns curated rows into the columns TFDV sees (pure); tfdv_check.py runs TFDV on
Beam (imported inside its functions, ml environment only); report.py writes what a person reads.
"""
