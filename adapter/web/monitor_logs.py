"""The IT page's logs, paged and filtered, and the stays their rows name.

The upstream call log and the HL7 log sit below the queue's state on the IT page, fifteen
rows at a time (the newest first), filtered by any text a row shows (``WI2301``, a visit, ``AE``).
A call's context and an HL7 message's visit number name a stay either by its encounter id or
by the HIS visit number: :func:`stay_links` resolves both, so the 就诊 column shows the HIS
number and links to the stay.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar
from urllib.parse import urlencode

if TYPE_CHECKING:
    from starlette.datastructures import QueryParams

    from adapter.services.container import Services

T = TypeVar("T")
PAGE_SIZE = 15
SCAN = 500  # the newest rows searched; older calls: GET /api/v1/upstream/calls


@dataclass(frozen=True)
class LogPage(Generic[T]):
    rows: list[T]
    q: str
    page: int
    pages: int
    total: int
    prev_url: str = ""
    next_url: str = ""
    names: tuple[str, str] = ("q", "page")  # the query parameters of this log
    kept: dict[str, str] = field(default_factory=dict)  # the other logs' parameters


def paged(
    rows: Sequence[T],
    text: Callable[[T], Iterable[object]],
    params: QueryParams,
    prefix: str,
    size: int = PAGE_SIZE,
    aliases: Callable[[str], Iterable[str]] = lambda q: (),
) -> LogPage[T]:
    """Rows matching ``{prefix}_q`` (any shown field contains it, or one of its ``aliases``:
    a stay's encounter id for its HIS visit number and back), page ``{prefix}_page``."""
    q_name, page_name = f"{prefix}_q", f"{prefix}_page"
    q = params.get(q_name, "").strip()
    needles = {n.casefold() for n in (q, *aliases(q)) if n} if q else set()
    found = [
        r
        for r in rows
        if not needles or any(n in str(v).casefold() for v in text(r) for n in needles)
    ]
    pages = max(1, -(-len(found) // size))
    try:
        page = min(max(1, int(params.get(page_name, "1"))), pages)
    except ValueError:
        page = 1
    kept = {k: v for k, v in params.items() if k not in (q_name, page_name) and v}

    def url(to: int) -> str:
        return "?" + urlencode({**kept, **({q_name: q} if q else {}), page_name: to})

    return LogPage(
        rows=list(found[(page - 1) * size : page * size]),
        q=q,
        page=page,
        pages=pages,
        total=len(found),
        prev_url=url(page - 1) if page > 1 else "",
        next_url=url(page + 1) if page < pages else "",
        names=(q_name, page_name),
        kept={k: v for k, v in kept.items() if not k.startswith(prefix)},
    )


@dataclass(frozen=True)
class StayLink:
    encounter_id: str
    his_visit_id: str


def stay_links(services: Services | None, keys: Iterable[str | None]) -> dict[str, StayLink]:
    """The stays named by encounter id or HIS visit number among ``keys`` (others: absent)."""
    if services is None:
        return {}
    code = services.context.institution.code
    found: dict[str, StayLink] = {}
    wanted = {k for k in keys if k and ":" not in k}  # "catalogue:…", "deductions:…" are not stays
    with services.context.uow() as uow:
        for key in wanted:
            record = uow.encounters.find(key) or uow.encounters.find_by_visit(code, key)
            if record is not None:
                e = record.encounter
                found[key] = StayLink(e.id, e.his_visit_id)
    return found
