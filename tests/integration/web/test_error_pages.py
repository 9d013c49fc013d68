"""A desk page's unexpected error is a page a clerk can read (what happened, what to do next);
the API's clients keep their problem+json. The desks' browser tests show 404 and 405; an
unexpected error cannot be made on demand in a real page, so a route here raises one."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine

from adapter.bootstrap import build_app
from adapter.settings import load_settings
from adapter.store.migrate import upgrade
from adapter.wiring.runtime import build_runtime
from tests.support.live import serving

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.fixture
def base(engine: Engine, db_url: str) -> Iterator[str]:
    upgrade(engine)
    settings = load_settings(database={"url": db_url})
    runtime = build_runtime(settings, engine=engine, workers=0, hl7=False, scheduled=False)
    app = build_app(settings, runtime)

    @app.get("/web/broken")
    def broken() -> None:
        raise RuntimeError("a bug")

    with serving(app) as url:
        yield url


def test_an_unexpected_error_on_a_desk_page_is_a_page_saying_what_to_do_next(base: str) -> None:
    reply = httpx.get(f"{base}/web/broken", headers=HTML)
    assert reply.status_code == 500
    assert reply.headers["content-type"].startswith("text/html")
    assert "系统内部错误，本次操作未完成，请联系信息科" in reply.text
    assert "后退" in reply.text and "返回工作台" in reply.text  # before: raw problem+json
    assert "a bug" not in reply.text


def test_the_api_and_scripts_still_get_problem_json(base: str) -> None:
    script = httpx.get(f"{base}/web/broken", headers={"Accept": "*/*"})
    assert script.status_code == 500
    assert script.headers["content-type"] == "application/problem+json"
    api = httpx.get(f"{base}/api/v1/nothing-here", headers=HTML)
    assert api.status_code == 404
    assert api.headers["content-type"] == "application/problem+json"
