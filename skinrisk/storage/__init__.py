"""Adapters: the only modules that know where bytes live (local folders, S3, SQLite)."""
