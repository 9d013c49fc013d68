"""The IT page's logs: fifteen rows a page, filtered by any shown text or a stay's alias."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.datastructures import QueryParams

from adapter.web.monitor_logs import PAGE_SIZE, paged

ROWS = [(f"WI{2301 + n % 3}", f"E{n:03d}") for n in range(40)]


def shown(row: tuple[str, str]) -> tuple[str, str]:
    return row


def test_the_first_page_holds_fifteen_rows_and_links_to_the_next() -> None:
    log = paged(ROWS, shown, QueryParams(""), "calls")
    assert PAGE_SIZE == 15 and log.rows == ROWS[:15]
    assert (log.page, log.pages, log.total) == (1, 3, 40)
    assert log.prev_url == "" and parse_qs(log.next_url[1:]) == {"calls_page": ["2"]}


def test_a_page_past_the_end_or_not_a_number_is_clamped() -> None:
    assert paged(ROWS, shown, QueryParams("calls_page=9"), "calls").rows == ROWS[30:]
    assert paged(ROWS, shown, QueryParams("calls_page=x"), "calls").page == 1
    assert paged(ROWS, shown, QueryParams("calls_page=-3"), "calls").page == 1
    assert paged([], shown, QueryParams(""), "calls").pages == 1


def test_the_filter_matches_any_shown_text_ignoring_case_and_keeps_the_other_logs_place() -> None:
    log = paged(ROWS, shown, QueryParams("calls_q=wi2302&hl7_page=2&hl7_q=AE"), "calls")
    assert log.total == 13 and all(r[0] == "WI2302" for r in log.rows)
    assert log.kept == {"hl7_page": "2", "hl7_q": "AE"}
    second = paged(ROWS, shown, QueryParams("calls_q=e0&calls_page=2&hl7_page=2"), "calls")
    assert parse_qs(second.prev_url[1:]) == {
        "calls_q": ["e0"],
        "calls_page": ["1"],
        "hl7_page": ["2"],
    }


def test_a_stays_alias_finds_rows_logged_under_its_other_name() -> None:
    log = paged(
        ROWS, shown, QueryParams("calls_q=ZY-7"), "calls", aliases=lambda q: ("E007", "ZY-7")
    )
    assert log.rows == [ROWS[7]]
    assert paged(ROWS, shown, QueryParams("calls_q=ZY-7"), "calls").total == 0
