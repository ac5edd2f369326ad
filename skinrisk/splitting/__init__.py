"""Splits: patient-level, deterministic, frozen as the dataset grows; leakage checked."""
