"""Audit: trace any model to the exact images, code and decisions behind it, and back."""
