"""Times on the wire: ISO 8601 UTC, and the relative times the command line accepts (``30d``)."""

from __future__ import annotations

import datetime
import re
from typing import Optional

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"\s*(\d+)\s*([smhdw])\s*\Z", re.IGNORECASE)


def iso_utc(moment: datetime.datetime) -> str:
    """``moment`` in ISO 8601 UTC with a ``Z`` (a naive datetime is taken to be UTC already)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return moment.isoformat() + "Z"


def parse_duration(text: str) -> Optional[datetime.timedelta]:
    """``30d``, ``12h``, ``15m``, ``90s`` or ``2w`` as a timedelta; None when ``text`` is not one."""
    match = _DURATION.match(text)
    if match is None:
        return None
    return datetime.timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2).lower()])


def parse_when(text: str, ago: bool, now: Optional[datetime.datetime] = None) -> str:
    """An ISO 8601 UTC time from a duration (from now: ``ago`` it, or ahead) or an ISO 8601 time.

    Raises
    ------
    ValueError
        Neither a duration nor an ISO 8601 time; the message says what is accepted.
    """
    now = now or datetime.datetime.now(datetime.timezone.utc)
    duration = parse_duration(text)
    if duration is not None:
        return iso_utc(now - duration if ago else now + duration)
    try:
        moment = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is neither a duration (30d, 12h, 15m, 90s, 2w) nor an ISO 8601 time "
                         "(2027-01-31T12:00:00Z)") from None
    return iso_utc(moment)
