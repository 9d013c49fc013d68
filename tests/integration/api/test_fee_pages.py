"""A stay's fee lines a page at a time: ``GET /api/v1/encounters/{id}/fees`` pages, in
arrival order, exactly the lines ``GET /api/v1/encounters/{id}`` lists, each priced (who pays
and why), with the stay's totals — to the fen what presettle says — on every page."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.integration.api.bodies import admit_over_api, line_body
from tests.integration.api.conftest import Api
from tests.support.fee_batches import assert_bad_page, bad_pages, fee_batch, total_split

D = Decimal
BATCHES = 5  # of 200 lines, then one of every kind pricing tells apart


def _stay(api: Api) -> tuple[str, list[str]]:
    """A stay of 1,005 lines: charges the fund pays, excesses the worker pays, a reversal, an
    unknown item, another illness's drug and two meal subsidies (listed apart), in that
    arrival order."""
    eid = admit_over_api(api).json()["id"]
    url = f"/api/v1/encounters/{eid}/fees"
    ids: list[str] = []
    mixed = [
        line_body("M1", "MEAL", "30.00", category="meal"),  # excluded, among the first page's
        line_body("R1", "XN02BEB001", "-19.25", "-1", reverses="B0L001"),
        line_body("X1", "HIS-NEW-1", "42.00"),  # unknown: flagged for the clerk
        line_body("W1", "XN02BEB001", "20.00", work_injury=False),  # another illness: the worker's
        line_body("M2", "MEAL", "30.00", category="meal"),
    ]
    for batch in range(BATCHES):
        lines = fee_batch(f"B{batch}")
        if batch == BATCHES - 1:
            lines += mixed[1:]
        elif batch == 0:
            lines = lines[:100] + mixed[:1] + lines[100:]
        recorded = api.post(url, role="his", json={"lines": lines})
        assert recorded.status_code == 200, recorded.text
        ids += [line["his_line_id"] for line in lines]
    return eid, ids


def _walk(api: Api, url: str, role: str = "all") -> list[dict[str, Any]]:
    pages = []
    following: str | None = url
    while following is not None:
        page = api.get(following, role=role)
        assert page.status_code == 200, page.text
        body = page.json()
        pages.append(body)
        following = body["next"]
        assert len(pages) <= 2000  # a page that never ends is a defect, not a long walk
    return pages


def test_the_pages_of_a_stay_are_exactly_its_lines_as_get_encounter_lists_them(api: Api) -> None:
    eid, ids = _stay(api)
    total = len(ids)
    shown = api.get(f"/api/v1/encounters/{eid}", role="device").json()["fees"]
    preview = api.post(f"/api/v1/encounters/{eid}/presettle", role="billing", json={}).json()

    pages = _walk(api, f"/api/v1/encounters/{eid}/fees?offset=0&limit=200", role="device")
    assert len(pages) == 6
    assert [(p["offset"], p["page_limit"], p["lines_total"]) for p in pages] == [
        (n * 200, 200, total) for n in range(6)
    ]
    assert [p["next"] for p in pages] == [
        *(f"/api/v1/encounters/{eid}/fees?offset={n * 200}&limit=200" for n in range(1, 6)),
        None,
    ]
    walked = [line for p in pages for line in p["lines"]]
    excluded = [line for p in pages for line in p["excluded"]]
    # each line once, priced as GET encounter prices it, in its order; meals listed apart
    assert walked == shown["lines"] and excluded == shown["excluded"]
    assert [x["his_line_id"] for x in pages[0]["excluded"]] == ["M1"]
    assert len(pages[0]["lines"]) == 199 and len(pages[-1]["lines"]) == 4
    in_order = [line["his_line_id"] for p in pages for line in (*p["lines"], *p["excluded"])]
    assert sorted(in_order) == sorted(ids) and len(in_order) == total
    w1 = next(x for x in walked if x["his_line_id"] == "W1")
    assert (w1["fund_pay"], w1["personal_pay"]) == ("0.00", "20.00")
    assert w1["rule"]["code"] and w1["personal_reason"]
    x1 = next(x for x in walked if x["his_line_id"] == "X1")
    assert x1["mapping_status"] == "unmapped"

    for page in pages:
        # who pays what adds up on every line of every page, and the totals are the stay's
        assert all(D(x["fund_pay"]) + D(x["personal_pay"]) == D(x["amount"]) for x in page["lines"])
        assert page["totals"] == shown["totals"] and page["unmapped"] == ["X1"]
        assert total_split(page["totals"]) == total_split(preview)
        assert page["totals"]["excluded_total"] == preview["excluded_total"] == "60.00"
        assert page["encounter_id"] == eid
    funds = sum(D(x["fund_pay"]) for x in walked)
    personal = sum(D(x["personal_pay"]) for x in walked)
    assert (funds + personal, funds, personal) == total_split(preview) and personal > 0

    # pages of 1,000, from the default first page the fee batch answer names, the same lines
    batch = api.post(
        f"/api/v1/encounters/{eid}/fees",
        role="his",
        json={"lines": [fee_batch("B0", 1)[0]]},
    ).json()
    assert batch["replayed"] is True
    assert batch["fees"]["stay_lines"] == f"/api/v1/encounters/{eid}/fees"
    first = api.get(batch["fees"]["stay_lines"], role="admission").json()
    assert (first["offset"], first["page_limit"]) == (0, 500)  # [api] answer_lines
    big = _walk(api, f"/api/v1/encounters/{eid}/fees?limit=1000", role="it")
    following = f"/api/v1/encounters/{eid}/fees?offset=1000&limit=1000"
    assert [p["next"] for p in big] == [following, None]
    assert [x for p in big for x in p["lines"]] == walked
    # a page straddling the end, and one past it: what is left, then nothing, never an error
    tail = api.get(f"/api/v1/encounters/{eid}/fees?offset={total - 3}&limit=5").json()
    assert [x["his_line_id"] for x in tail["lines"]] == ["X1", "W1"] and tail["next"] is None
    assert [x["his_line_id"] for x in tail["excluded"]] == ["M2"]
    beyond = api.get(f"/api/v1/encounters/{eid}/fees?offset={total}", role="billing").json()
    assert (beyond["lines"], beyond["excluded"], beyond["next"]) == ([], [], None)
    assert beyond["totals"] == shown["totals"] and beyond["lines_total"] == total


def test_a_short_stay_is_one_page_and_an_empty_one_no_lines(api: Api) -> None:
    eid = admit_over_api(api).json()["id"]
    empty = api.get(f"/api/v1/encounters/{eid}/fees", role="his")
    assert empty.status_code == 200, empty.text
    body = empty.json()
    assert (body["lines"], body["lines_total"], body["next"], body["totals"]["total"]) == (
        [],
        0,
        None,
        "0.00",
    )
    lines = [line_body("L1", "XN02BEB001", "36.50", "2"), line_body("L2", "XN02BEB001", "18.25")]
    api.post(f"/api/v1/encounters/{eid}/fees", role="his", json={"lines": lines})
    one = api.get(f"/api/v1/encounters/{eid}/fees?limit=1").json()
    assert [x["his_line_id"] for x in one["lines"]] == ["L1"]
    assert one["next"] == f"/api/v1/encounters/{eid}/fees?offset=1&limit=1"
    last = api.get(one["next"]).json()
    assert [x["his_line_id"] for x in last["lines"]] == ["L2"] and last["next"] is None
    whole = api.get(f"/api/v1/encounters/{eid}/fees").json()
    assert whole["lines"] == api.get(f"/api/v1/encounters/{eid}").json()["fees"]["lines"]
    assert whole["lines_total"] == 2 and whole["next"] is None


@pytest.mark.parametrize(("query", "field", "message"), bad_pages("offset", "1001"))
def test_a_bad_page_is_422_naming_the_field_and_its_bound(
    api: Api, query: str, field: str, message: str
) -> None:
    eid = admit_over_api(api).json()["id"]
    assert_bad_page(api.get(f"/api/v1/encounters/{eid}/fees?{query}"), field, message)


def test_the_pages_need_a_token_and_a_stay(api: Api) -> None:
    eid = admit_over_api(api).json()["id"]
    assert api.get(f"/api/v1/encounters/{eid}/fees", role=None).status_code == 401
    bad = api.get(f"/api/v1/encounters/{eid}/fees", role=None,
                  headers={"Authorization": "Bearer not-a-token"})  # fmt: skip
    assert bad.status_code == 401
    missing = api.get("/api/v1/encounters/E-NONE/fees?offset=0&limit=200", role="billing")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.json()["errors"][0]["code"] == "ENCOUNTER_NOT_FOUND"
    assert missing.json()["errors"] == api.get("/api/v1/encounters/E-NONE").json()["errors"]
