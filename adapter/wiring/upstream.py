"""The upstream gateway as the settings describe it."""

from __future__ import annotations

from adapter.settings import Settings
from connectors.upstream.config import UpstreamConfig


def upstream_config(settings: Settings) -> UpstreamConfig:
    upstream, institution = settings.upstream, settings.institution
    return UpstreamConfig(
        base_url=upstream.base_url,
        institution_code=institution.code,
        institution_name=institution.name,
        treatment_admdvs=institution.admdvs,
        auth=upstream.auth,
        access_key=upstream.access_key,
        secret_key=upstream.secret_key.get_secret_value(),
        sm4_key=upstream.sm4_key.get_secret_value(),
        sm2_private_key=upstream.sm2_private_key.get_secret_value(),
        sm2_public_key=upstream.sm2_public_key,
        upstream_sm2_public_key=upstream.upstream_sm2_public_key,
        write_timeout_s=upstream.write_timeout_s,
        recer_sys_code=upstream.recer_sys_code,
        infver=upstream.infver,
        operator_code=upstream.operator_code,
        operator_name=upstream.operator_name,
        connect_timeout_s=upstream.connect_timeout_s,
        read_timeout_s=upstream.read_timeout_s,
        read_budget_s=upstream.read_budget_s,
        action_budget_s=upstream.action_budget_s,
        ca_bundle=upstream.ca_bundle,
        client_cert=upstream.client_cert,
        client_key=upstream.client_key,
        time_zone=settings.time_zone,
    )
