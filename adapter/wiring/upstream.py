"""The upstream gateway as the settings describe it, and its call log as IT's port."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr

from adapter.settings import Settings
from adapter.settings_sections import UpstreamSettings
from connectors.upstream.call_log import CallLog, LoggedCall
from connectors.upstream.client import ReferenceClient
from connectors.upstream.config import UpstreamConfig


class LoggedCalls:
    """``UpstreamCalls``: the call log, re-sending a logged read through the live client."""

    def __init__(self, log: CallLog, client: ReferenceClient) -> None:
        self._log = log
        self._client = client

    def search(self, **filters: Any) -> list[LoggedCall]:
        return self._log.search(**filters)

    def resend(self, call_id: int, *, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
        return self._log.resend(call_id, self._client, overrides=dict(overrides or {}) or None)


def upstream_config(settings: Settings) -> UpstreamConfig:
    """``[upstream]`` as the client takes it — each setting to the field of its name, secrets
    unwrapped — with the institution the client speaks for."""
    upstream, institution = settings.upstream, settings.institution
    shared: dict[str, Any] = {
        name: value.get_secret_value() if isinstance(value, SecretStr) else value
        for name, value in ((n, getattr(upstream, n)) for n in UpstreamSettings.model_fields)
        if name in UpstreamConfig.__dataclass_fields__
    }
    return UpstreamConfig(
        **shared,
        institution_code=institution.code,
        institution_name=institution.name,
        treatment_admdvs=institution.admdvs,
        time_zone=settings.time_zone,
    )
