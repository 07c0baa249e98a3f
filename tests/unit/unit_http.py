"""Helpers of the unit tests: the mocked server's URL and decoders of recorded requests."""

from __future__ import annotations

import json
from typing import Any

#: The server URL every unit test talks to (never contacted: HTTP is mocked).
URL = "http://brood.test"


def root(api_version: int) -> str:
    """The absolute URL of an API version's root."""
    return f"{URL}/api/v{api_version}/json"


def json_body(call: Any) -> Any:
    """The decoded JSON body of a recorded call."""
    return json.loads(call.request.body)


def multipart_parts(request: Any) -> list[dict[str, Any]]:
    """Decode a recorded multipart upload into ``[{"headers": {...}, "content": bytes}]`` in wire order.

    The mocked transport never reads the streaming body, so it is read here.
    """
    from requests_toolbelt.multipart.decoder import MultipartDecoder

    body = request.body
    raw = body if isinstance(body, bytes) else b"".join(bytes(chunk) for chunk in body)
    decoder = MultipartDecoder(raw, request.headers["Content-Type"])
    return [
        {"headers": {k.decode(): v.decode() for k, v in part.headers.items()}, "content": part.content}
        for part in decoder.parts
    ]
