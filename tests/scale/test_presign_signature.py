"""The signed download URL with extra parameters: AWS Signature Version 4 query signing, byte for byte.

obstore's ``sign`` takes no extra query parameters, so the server signs the URL that carries
``response-content-disposition`` itself (``hatcher.server.blobstore.s3._presigned_get``). This
checks it against the presigned-URL example of the AWS documentation ("Authenticating Requests:
Using Query Parameters"), whose signature is published.
"""

from __future__ import annotations

import datetime
import types
from typing import Any

from hatcher.server.blobstore import s3

EXAMPLE_URL = "https://examplebucket.s3.amazonaws.com/test.txt"
EXAMPLE_SIGNATURE = "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"


class _FrozenDatetime(datetime.datetime):
    @classmethod
    def now(cls, tz: Any = None) -> datetime.datetime:  # noqa: D102 - the example's instant
        return datetime.datetime(2013, 5, 24, tzinfo=datetime.timezone.utc)


def test_the_aws_documentation_example_is_signed_exactly(monkeypatch: Any) -> None:
    # Given the example's instant, credentials and object
    monkeypatch.setattr(s3, "datetime", types.SimpleNamespace(datetime=_FrozenDatetime, timezone=datetime.timezone,
                                                              timedelta=datetime.timedelta))
    # When its URL is presigned for a day, with no extra parameter
    url = s3._presigned_get(EXAMPLE_URL, "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "",
                            "us-east-1", 86400, {})
    # Then the query and the signature are the documented ones
    assert url == (
        "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
        "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
        f"&X-Amz-Signature={EXAMPLE_SIGNATURE}")


def test_an_extra_parameter_is_signed_and_encoded(monkeypatch: Any) -> None:
    # Given the same instant and credentials
    monkeypatch.setattr(s3, "datetime", types.SimpleNamespace(datetime=_FrozenDatetime, timezone=datetime.timezone,
                                                              timedelta=datetime.timedelta))
    # When a Content-Disposition is asked for
    url = s3._presigned_get(EXAMPLE_URL, "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "",
                            "us-east-1", 86400, {"response-content-disposition": 'attachment; filename="a b.egg"'})
    # Then it is in the query, percent-encoded, and the signature changed
    assert "response-content-disposition=attachment%3B%20filename%3D%22a%20b.egg%22" in url
    assert EXAMPLE_SIGNATURE not in url and "X-Amz-Signature=" in url
