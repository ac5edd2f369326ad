"""A real S3 API over HTTP: moto's standalone server in its own process."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import VENVS

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": "us-east-1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def moto_server() -> Iterator[str]:
    """Start `moto_server` on a free loopback port; yield its endpoint URL; stop it."""
    port = free_port()
    proc = subprocess.Popen([str(VENVS / "ml" / "bin" / "moto_server"), "-H", "127.0.0.1",
                             "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def upload_batch(client, folder: Path, bucket: str, prefix: str, with_marker: bool = True) -> None:
    """Upload like a careful producer: SHA-256 checksums, the ready marker last."""
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    for name in [n for n in names if n != "_READY"] + (["_READY"] if with_marker else []):
        if name in names:
            client.put_object(Bucket=bucket, Key=f"{prefix}{folder.name}/{name}",
                              Body=(folder / name).read_bytes(), ChecksumAlgorithm="SHA256")
