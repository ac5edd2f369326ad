"""Benchmarks: `make bench` runs them, prints a table and writes BENCHMARKS.md."""
