"""A refused token or role is a WARNING line IT can act on: why, which token (its hint, the
last four characters `wi-adapter token list` shows) or which caller, and from where.

Before, a HIS whose token had been revoked left only `http.request … status=401` at INFO:
nothing said whether the token was missing, unknown or revoked, or which one it was.
"""

from __future__ import annotations

import logging

import pytest

from tests.integration.api.conftest import Api
from tests.integration.api.test_auth_and_input import ADMIT


def _refusals(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith("api.")]


def test_a_missing_or_unknown_token_is_logged_as_a_warning_with_its_hint(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    api.post("/api/v1/encounters", role=None, json=ADMIT)
    api.post(
        "/api/v1/encounters", role=None, json=ADMIT, headers={"Authorization": "Bearer wi_gone1234"}
    )
    missing, unknown = _refusals(caplog)
    assert missing.levelno == unknown.levelno == logging.WARNING
    assert (missing.getMessage(), missing.reason) == ("api.token_refused", "missing")  # type: ignore[attr-defined]
    assert (unknown.reason, unknown.hint) == ("unknown_or_revoked", "1234")  # type: ignore[attr-defined]
    assert unknown.client == "127.0.0.1" and unknown.route == "/api/v1/encounters"  # type: ignore[attr-defined]
    assert "wi_gone1234" not in caplog.text  # never the token itself


def test_a_token_without_the_role_is_logged_naming_the_caller_and_the_roles_needed(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    api.post("/api/v1/encounters", role="device", json=ADMIT)
    (refused,) = _refusals(caplog)
    assert refused.levelno == logging.WARNING and refused.getMessage() == "api.role_refused"
    assert refused.needed == ["admission", "his"]  # type: ignore[attr-defined]
    assert refused.roles == ["device"] and refused.caller  # type: ignore[attr-defined]


def test_a_refused_request_s_line_names_its_error_codes_as_an_hl7_message_s_does(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    """An admission the rules refused left `http.request … status=422` and no reason, where
    the same refusal over HL7 logs `error_codes`: IT asked why a stay was refused had to ask
    the clerk for the screen."""
    caplog.set_level(logging.INFO)
    expired = {**ADMIT, "card": {"kind": "physical", "card_no": "410100C0003"}}  # P003
    answer = api.post("/api/v1/encounters", role="admission", json=expired)
    assert answer.status_code == 422
    said = [e["code"] for e in answer.json()["errors"]]
    api.post("/api/v1/encounters", role="admission", json={**ADMIT, "kind": "dental"})
    assert api.get("/api/v1/encounters/waiting-for-upstream", role="admission").status_code == 200
    refused, invalid, fine = (r for r in caplog.records if r.getMessage() == "http.request")
    assert refused.error_codes.split(",") == said and said[0].startswith("EL_")  # type: ignore[attr-defined]
    assert invalid.error_codes == "INVALID_LITERAL_ERROR"  # type: ignore[attr-defined]
    assert not hasattr(fine, "error_codes")
