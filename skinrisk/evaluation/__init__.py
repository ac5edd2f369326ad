"""Evaluation: the paper's figures (per-grade AUC, accuracy, Youden thresholds, confusion) and
what they left out (patient-level bootstrap confidence intervals, slices with their n)."""
