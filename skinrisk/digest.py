"""Stable digests of what a run used, so the ledger can vouch for artifacts stored elsewhere."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


def canonical_sha256(value: Any) -> str:
    """sha256 of the canonical JSON (sorted keys, no spaces): the same value, the same digest."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def lock_hashes(root: Path | None) -> dict[str, str]:
    """sha256 of the environment lock files a checkout installs from ({} outside one)."""
    if root is None:
        return {}
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((root / "requirements").glob("*.lock"))}
