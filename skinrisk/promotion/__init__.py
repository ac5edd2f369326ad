"""Promotion: a pure decision (stats, decide), its record, and a separate apply step (registry)."""
