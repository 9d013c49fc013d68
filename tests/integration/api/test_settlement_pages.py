"""A settlement's lines in pages: the settle answer carries the first ``[api] answer_lines``
(500), ``GET /api/v1/settlements/{id}/lines`` the rest, keyset by position."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.integration.api.bodies import admit_over_api, line_body, settle_over_api
from tests.integration.api.conftest import Api
from tests.support.fee_batches import assert_bad_page, bad_pages, fee_batch

D = Decimal
LINES = 1200


def _stay(api: Api) -> tuple[str, list[str]]:
    """A stay of 1,200 lines: drugs in the catalogue and bed days of another illness (the
    worker pays them), so lines split between the fund and the worker."""
    eid = admit_over_api(api).json()["id"]
    ids = []
    for batch in range(LINES // 200):
        lines = fee_batch(f"B{batch}")
        ids += [line["his_line_id"] for line in lines]
        recorded = api.post(f"/api/v1/encounters/{eid}/fees", role="his", json={"lines": lines})
        assert recorded.status_code == 200, recorded.text
    return eid, ids


def _walk(api: Api, first: dict[str, Any], role: str = "all") -> list[dict[str, Any]]:
    lines = list(first["lines"])
    following = first["lines_next"]
    pages = 1
    while following is not None:
        page = api.get(following, role=role)
        assert page.status_code == 200, page.text
        body = page.json()
        assert body["lines_total"] == first["lines_total"] and body["lines"]
        lines += body["lines"]
        following = body["lines_next"]
        pages += 1
        assert pages <= LINES  # a page that never ends is a defect, not a long walk
    return lines


def test_a_long_stays_settlement_answers_a_page_and_the_rest_pages_to_the_end(api: Api) -> None:
    eid, ids = _stay(api)
    settled = settle_over_api(api, eid, role="his")
    assert settled.status_code == 201, settled.text
    s = settled.json()
    sid = s["id"]
    assert len(s["lines"]) == 500 and s["lines_total"] == LINES
    assert s["lines_next"] == f"/api/v1/settlements/{sid}/lines?after=499&limit=500"
    assert [line["his_line_id"] for line in s["lines"]] == ids[:500]

    walked = _walk(api, s)
    assert [line["his_line_id"] for line in walked] == ids  # each once, in line order
    funds = sum(D(line["fund_pay"]) for line in walked)
    personal = sum(D(line["personal_pay"]) for line in walked)
    assert all(D(x["fund_pay"]) + D(x["personal_pay"]) == D(x["amount"]) for x in walked)
    assert (funds, personal) == (D(s["fund_pay"]), D(s["personal_pay"]))
    assert funds + personal == D(s["total"]) and personal > 0 and funds > 0

    # pages of 1,000 give the same lines; the settlement as read again answers its first page
    big = api.get(f"/api/v1/settlements/{sid}/lines?limit=1000", role="admission").json()
    assert len(big["lines"]) == 1000 and big["lines_next"].endswith("after=999&limit=1000")
    assert _walk(api, big, role="device") == walked
    shown = api.get(f"/api/v1/settlements/{sid}", role="device").json()
    assert shown["lines"] == s["lines"] and shown["lines_next"] == s["lines_next"]
    assert shown["lines_total"] == LINES
    last = api.get(f"/api/v1/settlements/{sid}/lines?after={LINES - 2}").json()
    assert [x["his_line_id"] for x in last["lines"]] == ids[-1:] and last["lines_next"] is None
    beyond = api.get(f"/api/v1/settlements/{sid}/lines?after={LINES - 1}").json()
    assert beyond == {"lines": [], "lines_total": LINES, "lines_next": None}

    # the replayed settle answers the same first page
    replayed = settle_over_api(api, eid, role="billing")
    assert replayed.status_code == 200 and replayed.json()["lines"] == s["lines"]
    revoked = api.post(f"/api/v1/settlements/{sid}/revoke", role="billing", json={"reason": "x"})
    assert revoked.status_code == 200 and revoked.json()["lines_next"] == s["lines_next"]


def test_a_short_stay_answers_every_line_and_no_next_page(api: Api) -> None:
    eid = admit_over_api(api).json()["id"]
    lines = [line_body("L1", "XN02BEB001", "36.50", "2"), line_body("L2", "XN02BEB001", "18.25")]
    api.post(f"/api/v1/encounters/{eid}/fees", role="his", json={"lines": lines})
    s = settle_over_api(api, eid).json()
    assert len(s["lines"]) == 2 and s["lines_total"] == 2 and s["lines_next"] is None
    page = api.get(f"/api/v1/settlements/{s['id']}/lines").json()
    assert page == {"lines": s["lines"], "lines_total": 2, "lines_next": None}
    one = api.get(f"/api/v1/settlements/{s['id']}/lines?limit=1").json()
    assert [x["his_line_id"] for x in one["lines"]] == ["L1"]
    assert one["lines_next"] == f"/api/v1/settlements/{s['id']}/lines?after=0&limit=1"


@pytest.mark.parametrize(("query", "field", "message"), bad_pages("after", "5000"))
def test_a_bad_page_is_422_naming_the_field_and_its_bound(
    api: Api, query: str, field: str, message: str
) -> None:
    eid = admit_over_api(api).json()["id"]
    api.post(f"/api/v1/encounters/{eid}/fees", role="his",
             json={"lines": [line_body("L1", "XN02BEB001", "36.50", "2")]})  # fmt: skip
    sid = settle_over_api(api, eid).json()["id"]
    assert_bad_page(api.get(f"/api/v1/settlements/{sid}/lines?{query}"), field, message)


def test_the_pages_need_a_token_and_a_settlement(api: Api) -> None:
    assert api.get("/api/v1/settlements/S-NONE/lines", role=None).status_code == 401
    missing = api.get("/api/v1/settlements/S-NONE/lines", role="billing")
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["code"] == "SETTLEMENT_NOT_FOUND"
