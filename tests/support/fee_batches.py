"""A long stay's fee lines as the HIS posts them over REST, a batch at a time, and what the
tests of paged lines (a stay's, a settlement's, a batch's answer) read of an answer."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from tests.integration.api.bodies import line_body


def fee_batch(prefix: str, size: int = 200) -> list[dict[str, Any]]:
    """``size`` lines ``{prefix}L000``, ``{prefix}L001`` …: drugs in the catalogue, the fund's
    to pay, and every third three bed days of another illness, the worker's (B§29). Not of
    the work injury: a long stay of these batches bills more bed days than it has, which the
    fund does not pay (``FEE_DAYS_OVER_STAY``)."""
    lines = []
    for n in range(size):
        line_id = f"{prefix}L{n:03d}"
        if n % 3:
            lines.append(line_body(line_id, "XN02BEB001", f"{18 + n % 7}.25", "1"))
        else:  # bed days of another illness: the worker pays them
            bed = line_body(line_id, "110900001A", "180.00", "3", category="service")
            lines.append({**bed, "work_injury": False})
    return lines


def total_split(body: dict[str, Any]) -> tuple[Decimal, Decimal, Decimal]:
    """The total, the fund's and the worker's share of an answer's totals (or presettle's)."""
    return Decimal(body["total"]), Decimal(body["fund_pay"]), Decimal(body["personal_pay"])


def assert_bad_page(reply: httpx.Response, field: str, message: str) -> None:
    """``reply`` refuses the page asked for: a problem+json 422 with one error, naming
    ``field`` and saying ``message`` (its bound)."""
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json"), reply.headers
    errors = [(e["field"], e["message"]) for e in reply.json()["errors"]]
    assert errors == [(field, message)], errors


def bad_pages(position: str, over_the_bound: str) -> list[tuple[str, str, str]]:
    """Pages asked for badly, by their ``position`` (``offset``, ``after``) or their limit
    (``over_the_bound``: one over 1,000): the query, the field the refusal names, and what it
    says — the bound, not just "wrong"."""
    return [
        (f"{position}=-1", position, f"{position}：须不小于 0"),
        (f"{position}=abc", position, f"{position}：须为整数"),
        # past any stay or settlement and past what the database binds: refused, not a 500
        (f"{position}=99999999999999999999", position, f"{position}：须不大于 1000000000"),
        ("limit=0", "limit", "limit：须不小于 1"),
        (f"limit={over_the_bound}", "limit", "limit：须不大于 1000"),
        (f"limit=x&{position}=1", "limit", "limit：须为整数"),
    ]
