"""The web interface's read queries: paged and sorted in SQL, so a page never loads a platform's every row.

A platform of 20,000 eggs is listed 50 names at a time (``GROUP BY name ... LIMIT/OFFSET``,
plus one ``COUNT``); nothing here changes the schema (the ``artefacts.repository_id`` index
narrows every query to one repository).
"""

from __future__ import annotations

import datetime
import math
from typing import Any, Callable, Optional, Sequence

import attr
from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from hatcher.server.audit import KIND_SUBJECTS
from hatcher.server.db import Artefact, AuditEvent
from hatcher.server.ingest import APP, BUNDLE, EGG, RUNTIME, RUNTIME_V0

#: Rows per page.
PER_PAGE = 50

#: The platform page's tabs: URL value -> (label, stored kinds).
TABS: dict[str, tuple[str, tuple[str, ...]]] = {
    "eggs": ("Eggs", (EGG,)),
    "runtimes": ("Runtimes", (RUNTIME_V0, RUNTIME)),
    "apps": ("Apps", (APP,)),
    "bundles": ("Bundles", (BUNDLE,)),
}

#: The tab of each stored kind.
KIND_TABS = {kind: tab for tab, (_, kinds) in TABS.items() for kind in kinds}

#: Sort orders of the egg-name list: URL value -> label.
NAME_SORTS = {"name": "Name (A to Z)", "-name": "Name (Z to A)", "updated": "Recently uploaded",
              "versions": "Most versions"}
#: Sort orders of a list of artefacts (runtimes, apps, bundles, an egg's versions).
ARTEFACT_SORTS = {"name": "Name (A to Z)", "-name": "Name (Z to A)", "updated": "Recently uploaded"}


@attr.s(auto_attribs=True, frozen=True)
class Page:
    """One page of a longer list.

    Attributes
    ----------
    rows : list
        This page's rows.
    number : int
        The page shown, from 1.
    total : int
        Rows in the whole list.
    per_page : int
        Rows per page.
    """

    rows: list[Any]
    number: int
    total: int
    per_page: int = PER_PAGE

    @property
    def pages(self) -> int:
        """How many pages the list has (at least 1)."""
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def first_row(self) -> int:
        """The position (from 1) of this page's first row (0 when the list is empty)."""
        return (self.number - 1) * self.per_page + 1 if self.total else 0

    @property
    def last_row(self) -> int:
        """The position of this page's last row."""
        return (self.number - 1) * self.per_page + len(self.rows)


def page_number(value: Optional[str]) -> int:
    """The page number of a ``page`` query parameter (1 when absent or not a positive number)."""
    try:
        number = int(value or 1)
    except ValueError:
        return 1
    return min(max(number, 1), 1_000_000)


def _paged(db: Session, count: Any, rows: Callable[[int, int], Any], number: int,
           per_page: int = PER_PAGE) -> Page:
    """Count, clamp ``number`` to the last page, then fetch that page's rows only."""
    total = db.scalar(count) or 0
    number = min(number, max(1, math.ceil(total / per_page)))
    return Page(list(db.execute(rows(per_page, (number - 1) * per_page))), number, total, per_page)


def platform_counts(db: Session, repository_id: int) -> dict[str, dict[str, int]]:
    """``{platform: {tab: artefacts}}`` of a repository (one grouped query).

    Parameters
    ----------
    db : Session
    repository_id : int

    Returns
    -------
    dict
        Platforms sorted by name; each maps the tabs of :data:`TABS` to their artefact count.
    """
    counts: dict[str, dict[str, int]] = {}
    for platform, kind, count in db.execute(
            select(Artefact.platform, Artefact.kind, func.count())
            .where(Artefact.repository_id == repository_id).group_by(Artefact.platform, Artefact.kind)):
        tabs = counts.setdefault(platform, dict.fromkeys(TABS, 0))
        tabs[KIND_TABS.get(kind, "eggs")] += count
    return dict(sorted(counts.items()))


def egg_names(db: Session, repository_id: int, platform: str, sort: str, number: int,
              per_page: int = PER_PAGE) -> Page:
    """One page of a platform's egg names, each with its number of versions and last upload.

    Rows have ``name``, ``versions`` (count), ``updated`` (newest mtime) and ``enabled``
    (how many of the versions are enabled).

    Parameters
    ----------
    db : Session
    repository_id : int
    platform : str
        Canonical platform name.
    sort : str
        A key of :data:`NAME_SORTS`.
    number : int
        Page wanted (clamped to the last).
    per_page : int
    """
    where = (Artefact.repository_id == repository_id, Artefact.kind == EGG, Artefact.platform == platform)
    versions, updated = func.count().label("versions"), func.max(Artefact.mtime).label("updated")
    order: Sequence[Any] = {
        "-name": (Artefact.name.desc(),),
        "updated": (updated.desc(), Artefact.name),
        "versions": (versions.desc(), Artefact.name),
    }.get(sort, (Artefact.name,))
    count = select(func.count(func.distinct(Artefact.name))).where(*where)

    def rows(limit: int, offset: int) -> Any:
        return (select(Artefact.name, versions, updated,
                       func.sum(case((Artefact.enabled, 1), else_=0)).label("enabled"))
                .where(*where).group_by(Artefact.name).order_by(*order).limit(limit).offset(offset))

    return _paged(db, count, rows, number, per_page)


def _artefact_order(sort: str) -> Sequence[Any]:
    label = func.coalesce(func.nullif(Artefact.name, ""), Artefact.key)
    return {
        "-name": (label.desc(), Artefact.version.desc(), Artefact.id.desc()),
        "updated": (Artefact.mtime.desc(), Artefact.id.desc()),
    }.get(sort, (label, Artefact.version, Artefact.id))


def artefacts(db: Session, repository_id: int, platform: str, kinds: Sequence[str], sort: str, number: int,
              per_page: int = PER_PAGE, name: Optional[str] = None) -> Page:
    """One page of a platform's artefacts of ``kinds`` (ORM :class:`Artefact` rows, as 1-tuples).

    Parameters
    ----------
    db : Session
    repository_id : int
    platform : str
        Canonical platform name.
    kinds : sequence of str
        Stored kinds (``egg``, ``runtime_v0``, ...).
    sort : str
        A key of :data:`ARTEFACT_SORTS`.
    number : int
        Page wanted (clamped to the last).
    per_page : int
    name : str, optional
        Only the artefacts of this (stored) name, e.g. one egg's versions.
    """
    where: list[ColumnElement[bool]] = [Artefact.repository_id == repository_id, Artefact.platform == platform,
                                        Artefact.kind.in_(list(kinds))]
    if name is not None:
        where.append(Artefact.name == name)
    count = select(func.count()).select_from(Artefact).where(*where)

    def rows(limit: int, offset: int) -> Any:
        return select(Artefact).where(*where).order_by(*_artefact_order(sort)).limit(limit).offset(offset)

    return _paged(db, count, rows, number, per_page)


def audit_target(full_name: str, artefact: Artefact) -> str:
    """The audit log's target of an artefact: ``org/repo/platform/filename``."""
    return f"{full_name}/{artefact.platform}/{artefact.filename}"


#: Where the upload event of an artefact is looked for first: from this many seconds before its
#: ``mtime`` (set just before the event is recorded, in the same transaction) to this many after.
UPLOAD_EVENT_WINDOW = (60.0, 3600.0)


def _newest_actors(db: Session, organization: str, actions: list[str], targets: list[str],
                   when: Optional[ColumnElement[bool]] = None) -> dict[str, str]:
    """``{target: actor}`` of the newest event of ``actions`` on each of ``targets`` (``when``: a time condition)."""
    if when is None:
        where = [AuditEvent.organization == organization, AuditEvent.action.in_(actions)]
    else:
        # Only ``when`` indexable (coalesce() hides the other indexed columns from SQLite's planner,
        # which without ANALYZE statistics would otherwise prefer the organization's or the action's index).
        where = [when, func.coalesce(AuditEvent.organization, "") == organization,
                 func.coalesce(AuditEvent.action, "").in_(actions)]
    # (No ``outcome`` condition: upload events are recorded with the upload's commit, so always
    # succeeded; and SQLite's planner would scan the whole table for it.)
    where.append(AuditEvent.target.in_(targets))
    newest = list(db.scalars(select(func.max(AuditEvent.id)).where(*where).group_by(AuditEvent.target)))
    if not newest:
        return {}
    # By primary key (a join with the grouped query above may be planned as a scan of every event).
    return {target: actor for target, actor in db.execute(
        select(AuditEvent.target, AuditEvent.actor).where(AuditEvent.id.in_(newest))) if actor}


def uploaders(db: Session, full_name: str, found: Sequence[Artefact]) -> dict[int, str]:
    """``{artefact id: e-mail}`` of who last uploaded (or overwrote) each artefact, where the audit log knows.

    The newest ``KIND.upload`` / ``KIND.overwrite`` event of each artefact's target. ``target``
    has no index, so the events are first looked for near each artefact's ``mtime`` (the
    indexed ``time`` column, :data:`UPLOAD_EVENT_WINDOW`): one query for the whole page; only
    the artefacts not found there (e.g. rows written without an upload) cost a second query
    over the organization's upload events.

    Parameters
    ----------
    db : Session
    full_name : str
        The artefacts' repository, ``org/repo``.
    found : sequence of Artefact
        The page's artefacts (all of that repository).
    """
    if not found:
        return {}
    organization = full_name.split("/", 1)[0]
    targets = {audit_target(full_name, artefact): artefact for artefact in found}
    actions = sorted({f"{KIND_SUBJECTS[artefact.kind]}.{verb}" for artefact in found
                      for verb in ("upload", "overwrite")})
    before, after = UPLOAD_EVENT_WINDOW
    windows = [AuditEvent.time.between(_utc(artefact.mtime - before), _utc(artefact.mtime + after))
               for artefact in found]
    by_target = _newest_actors(db, organization, actions, list(targets), or_(*windows))
    missing = [target for target in targets if target not in by_target]
    if missing:
        by_target.update(_newest_actors(db, organization, actions, missing))
    return {artefact.id: by_target[target] for target, artefact in targets.items() if target in by_target}


def _utc(posix: float) -> datetime.datetime:
    """A naive UTC datetime (as the audit log stores them) of a POSIX time."""
    return datetime.datetime.fromtimestamp(posix, datetime.timezone.utc).replace(tzinfo=None)


def search(db: Session, repository_ids: Sequence[int], query: str, number: int, per_page: int = PER_PAGE) -> Page:
    """One page of the names matching ``query`` (a case-insensitive substring) in these repositories.

    Rows have ``repository_id``, ``kind``, ``platform``, ``name`` (for a v1 runtime: its
    implementation), ``versions`` and ``updated``; sorted by name, then repository and platform.
    """
    if not repository_ids or not query:
        return Page([], 1, 0, per_page)
    label = func.coalesce(func.nullif(Artefact.name, ""), Artefact.key).label("name")
    where = (Artefact.repository_id.in_(list(repository_ids)),
             or_(Artefact.name.icontains(query, autoescape=True),
                 and_(Artefact.kind == RUNTIME, Artefact.key.icontains(query, autoescape=True))))
    groups = (Artefact.repository_id, Artefact.kind, Artefact.platform, label)
    count = select(func.count()).select_from(select(*groups).where(*where).group_by(*groups).subquery())

    def rows(limit: int, offset: int) -> Any:
        return (select(*groups, func.count().label("versions"), func.max(Artefact.mtime).label("updated"))
                .where(*where).group_by(*groups)
                .order_by(label, Artefact.repository_id, Artefact.platform, Artefact.kind)
                .limit(limit).offset(offset))

    return _paged(db, count, rows, number, per_page)
