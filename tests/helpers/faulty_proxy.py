"""An HTTP proxy in front of a real S3 API (moto's server) that injects the faults S3 clients
meet: 5xx and throttling answers, connections reset mid-body, bodies damaged in transit.

Each fault is a rule: which requests it matches (method, a substring of the path) and how many
times it fires; requests no rule claims are forwarded untouched. The proxy counts what it saw,
so a test can tell a retry from a lucky first try.
"""

from __future__ import annotations

import http.client
import socket
import struct
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

ERRORS = {
    500: ("InternalError", "We encountered an internal error. Please try again."),
    503: ("SlowDown", "Please reduce your request rate."),
}


@dataclass
class Fault:
    kind: str  # "status" | "reset" | "corrupt"
    path: str = ""  # fires on requests whose path contains this
    method: str = "GET"
    times: int = 1  # how often it fires; -1: always
    status: int = 503
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (self.times < 0 or self.fired < self.times) and method == self.method and (
            self.path in path)


@dataclass
class FaultyProxy:
    upstream: str
    faults: list[Fault] = field(default_factory=list)
    seen: list[tuple[str, str]] = field(default_factory=list)
    bytes_sent: int = 0  # request bodies forwarded upstream (what clients wrote)
    bytes_received: int = 0  # response bodies returned to clients (what they read)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _any(self) -> None:
                proxy._handle(self)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _any

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FaultyProxy:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def count(self, method: str, path: str) -> int:
        return sum(1 for m, p in self.seen if m == method and path in p)

    def _claim(self, method: str, path: str) -> Fault | None:
        with self._lock:
            self.seen.append((method, path))
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.fired += 1
                    return fault
        return None

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        fault = self._claim(handler.command, handler.path)
        if fault is not None and fault.kind == "status":
            code, message = ERRORS.get(fault.status, ("Error", "error"))
            payload = (f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
                       f"<Message>{message}</Message></Error>").encode()
            handler.send_response(fault.status)
            handler.send_header("Content-Type", "application/xml")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
            return
        target = urlsplit(self.upstream)
        upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
        headers = {k: v for k, v in handler.headers.items() if k.lower() != "connection"}
        upstream.request(handler.command, handler.path, body=body, headers=headers)
        response = upstream.getresponse()
        data = response.read()
        upstream.close()
        with self._lock:
            self.bytes_sent += len(body)
            self.bytes_received += len(data) if handler.command != "HEAD" else 0
        if fault is not None and fault.kind == "corrupt" and data:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        handler.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                handler.send_header(key, value)
        # A HEAD answer has no body but says how long the object's is (clients size reads on it).
        handler.send_header("Content-Length", response.getheader("Content-Length") or "0"
                            if handler.command == "HEAD" else str(len(data)))
        handler.end_headers()
        if fault is not None and fault.kind == "reset":
            handler.wfile.write(data[: len(data) // 2])
            handler.wfile.flush()
            # SO_LINGER 0: close with a TCP reset, as a dropped connection looks to the client.
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                          struct.pack("ii", 1, 0))
            handler.connection.close()
            handler.close_connection = True
            return
        if handler.command != "HEAD":
            handler.wfile.write(data)
