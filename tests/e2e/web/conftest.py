"""Browser fixtures: Debian's Chromium driven by Playwright, one adapter per database
backend for the session, a fresh browser context (1366×768, the desks' PCs, zh-CN) per test,
screenshots saved for review.

Screenshots go to ``$WEB_SCREENSHOTS`` if set, else to ``test-artifacts/screenshots/`` in the
checkout (git-ignored; emptied at the start of a run so it shows this run only). Every test
saves at least one: a test that took none gets its page's last state. Each test's files are
recorded as its ``screenshots`` property (in ``--junitxml``) and named in its report section,
and the folder is printed at the end of the run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import BACKENDS, create_pg_database, drop_pg_database
from tests.e2e.web.site import PASSWORD, Site, running_site

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
VIEWPORT = {"width": 1366, "height": 768}  # the desks' PCs; what is above the fold there

CHROMIUM = os.environ.get("WEB_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


# Package scope, not session: the site's runtime (queue runner, HL7 listener, simulator) and
# Chromium stop when the desks' tests end, instead of sharing the CPU and the GIL with every
# later test in the run (one of those, timing an upstream read, once missed its deadline).
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (make system-deps)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="package", params=BACKENDS)
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('web')}/adapter.db"
        with running_site(url) as site:
            yield site
        return
    url = create_pg_database()
    try:
        with running_site(url) as site:
            yield site
    finally:
        drop_pg_database(url)


@pytest.fixture(scope="session")
def screens(tmp_path_factory: pytest.TempPathFactory) -> Path:
    configured = os.environ.get("WEB_SCREENSHOTS")
    folder = Path(configured) if configured else ARTIFACTS
    folder.mkdir(parents=True, exist_ok=True)
    if not configured:
        for stale in folder.glob("*.png"):
            stale.unlink()
    SAVED.append(folder)
    return folder


SAVED: list[Path] = []  # where this run's screenshots went, told at the end


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for folder in SAVED:
        count = len(list(folder.glob("*.png")))
        terminalreporter.write_line(f"browser screenshots ({count}) for review: {folder}")


@pytest.fixture
def page(
    browser: Browser,
    request: pytest.FixtureRequest,
    screens: Path,
    record_property: Callable[[str, object], None],
) -> Iterator[Page]:
    # the desks' PCs keep Beijing time: the page's "today" (a card's expiry) is theirs
    context = browser.new_context(  # type: ignore[arg-type]
        viewport=VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    shots = Shots(page, screens, request.node.name)
    page.shots = shots  # type: ignore[attr-defined]
    try:
        yield page
        if not shots.saved and not page.is_closed() and page.url.startswith("http"):
            shots("end")
    finally:
        context.close()
        report(request, record_property, shots)


def report(
    request: pytest.FixtureRequest, record_property: Callable[[str, object], None], shots: Shots
) -> None:
    """Name the test's screenshots in its report (``-rA``, ``--junitxml``)."""
    if shots.saved:
        paths = " ".join(str(p) for p in shots.saved)
        record_property("screenshots", paths)
        request.node.add_report_section("teardown", "screenshots", paths)


class Shots:
    def __init__(self, page: Page, folder: Path, test: str):
        self._page, self._folder = page, folder
        self._test = re.sub(r"[^\w.-]+", "_", test)
        self.saved: list[Path] = []

    def __call__(self, name: str, of: Page | None = None, full_page: bool = True) -> Path:
        path = self._folder / f"{self._test}-{name}.png"
        (of or self._page).screenshot(path=str(path), full_page=full_page)
        self.saved.append(path)
        return path


def shot(page: Page, name: str, of: Page | None = None, full_page: bool = True) -> Path:
    """Save a screenshot of ``page`` (or of another tab it opened, ``of``); the whole page, or
    what the screen shows without scrolling (``full_page=False``)."""
    return page.shots(name, of, full_page)  # type: ignore[attr-defined, no-any-return]


def sign_in(
    page: Page, site: Site, name: str, password: str = PASSWORD, path: str = "/web/"
) -> None:
    page.goto(f"{site.base}{path}")
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(password)
    page.get_by_label("密码").press("Enter")
