"""A tiny HTTP backend for the load-balancer tests: it answers with its name and the proxy headers it got.

``python echo_backend.py NAME PORT [--drop]``: listens on 127.0.0.1:PORT; with ``--drop`` it closes
the connection without answering any request for ``/drop`` (a server dying in the middle of a request).
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class EchoHandler(BaseHTTPRequestHandler):
    """Answers every method with a JSON description of the request."""

    protocol_version = "HTTP/1.1"
    name = ""
    drop = False

    def answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        received = len(self.rfile.read(length)) if length else 0
        if self.drop and self.path == "/drop":
            self.close_connection = True
            return
        body = json.dumps({"name": self.name, "method": self.command, "path": self.path, "received": received,
                           "host": self.headers.get("Host"), "forwarded_for": self.headers.get("X-Forwarded-For"),
                           "forwarded_proto": self.headers.get("X-Forwarded-Proto"),
                           "connection": self.headers.get("Connection")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = answer

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


def main(argv: list[str]) -> None:
    """Serve until SIGTERM."""
    EchoHandler.name, port = argv[0], int(argv[1])
    EchoHandler.drop = "--drop" in argv
    with ThreadingHTTPServer(("127.0.0.1", port), EchoHandler) as server:
        server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
