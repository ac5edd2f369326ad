"""Synthetic hospital cohorts for tests and the demo (see cohort.py)."""
