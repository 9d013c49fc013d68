"""No CJK font for the PDF slip: a 503 problem in Chinese naming the package to install and
linking the HTML slip, which prints the same settlement now."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import Engine

from adapter.web.slip_pdf import FONT_PACKAGE
from tests.e2e.hl7_rest import SHANGHAI, settle_over_rest, settlement_of
from tests.integration.operations.conftest import live_adapter


def test_a_missing_slip_font_is_a_503_naming_the_package_and_linking_the_html_slip(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    missing = tmp_path / "fonts" / "wqy-zenhei.ttc"
    with live_adapter(db_url, engine, web={"slip_font": str(missing)}) as live:
        base, headers = live.base, live.headers
        discharged = datetime.now(SHANGHAI).replace(microsecond=0) - timedelta(hours=1)
        settle_over_rest(base, headers, discharged - timedelta(days=3), discharged)
        settlement = settlement_of(base, headers, "RV0001")
        url = f"{base}/api/v1/settlements/{settlement['id']}/slip"
        pdf = httpx.get(url, headers={**headers, "Accept": "application/pdf"}, timeout=30)
        assert pdf.status_code == 503, pdf.text
        assert pdf.headers["content-type"] == "application/problem+json"
        body = pdf.json()
        (error,) = body["errors"]
        assert error["code"] == "SLIP_FONT_MISSING"
        assert FONT_PACKAGE in error["message"] and str(missing) in error["message"]
        assert "网页版结算单" in error["message"] and body["install"] == FONT_PACKAGE
        assert body["html_slip"] == f"{url}?format=html"
        assert 'rel="alternate"' in pdf.headers["link"]
        html = httpx.get(body["html_slip"], headers=headers, timeout=30)
        assert html.status_code == 200 and "text/html" in html.headers["content-type"]
        assert "工伤保险跨省异地就医结算单" in html.text
