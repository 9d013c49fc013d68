"""The upstream client's configuration, and the pooled ``httpx.Client`` it runs on.

Connectors do not read the adapter's settings: the composition root maps
``adapter.settings_sections.UpstreamSettings`` and ``InstitutionSettings`` onto
:class:`UpstreamConfig`.
:func:`make_auth` picks the gateway authentication scheme it names; it lives here, above
:mod:`connectors.upstream.auth` and :mod:`connectors.upstream.sm_auth`, because the 国密
scheme builds on the base one and the base one must not import it back.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Literal

import httpx

from connectors.upstream.auth import GatewayAuth, HmacAuth, NoAuth
from connectors.upstream.sm_auth import SmAuth

AuthKind = Literal["none", "hmac", "sm"]

# The national platform answers an expired sign-in with infcode -1 and a message like
# "签到信息已失效，请重新签到"; provinces word it differently, so the pattern is a setting.
DEFAULT_SIGN_EXPIRED_PATTERN = r"签到.{0,8}(失效|过期|无效)|sign_no.{0,20}expired"
# A receiver that answers a repeated write with an error rather than its first reply
# (interfaces.md §3) words it like "重复上传" or "该报文已接收": not a refusal, see
# connectors.upstream.translate.AlreadyReceived. Writes only.
DEFAULT_ALREADY_RECEIVED_PATTERN = (
    r"重复|已(经)?(接收|收到|受理|上传|存在|处理)|duplicate|already (received|exists|processed)"
)


@dataclass(frozen=True)
class UpstreamConfig:
    """Everything the reference-dialect client needs, as plain values.

    ``read_budget_s`` bounds the total time a clerk waits on one read, retries included;
    ``action_budget_s`` bounds all the reads of one action together (an admission's four).
    ``write_timeout_s`` is the single attempt a write gets (the queue retries it later).
    For ``auth="hmac"``: ``access_key`` and ``secret_key``. For ``auth="sm"``:
    ``access_key``, ``sm4_key`` (32 hex digits), ``sm2_private_key`` (ours, 64 hex),
    ``sm2_public_key`` (ours, 128 hex) and ``upstream_sm2_public_key`` (to verify replies).
    """

    base_url: str
    institution_code: str  # fixmedins_code, 12 characters
    institution_name: str
    treatment_admdvs: str  # mdtrtarea_admvs: the city the institution is in
    auth: AuthKind = "none"
    access_key: str = ""
    secret_key: str = ""
    sm4_key: str = ""
    sm2_private_key: str = ""
    sm2_public_key: str = ""
    upstream_sm2_public_key: str = ""
    recer_sys_code: str = "WIADAPTER"
    infver: str = "V1.0"
    operator_type: str = "1"  # opter_type: 1 staff, 2 self-service terminal
    operator_code: str = "SYS"
    operator_name: str = "系统"
    connect_timeout_s: float = 3.0
    read_timeout_s: float = 10.0
    write_timeout_s: float = 30.0
    read_budget_s: float = 6.0
    # every read of one action (adapter.domain.budget.upstream_action) together
    action_budget_s: float = 10.0
    ca_bundle: str = ""
    client_cert: str = ""
    client_key: str = ""
    max_connections: int = 20
    # As many as max_connections. With fewer, more concurrent callers than keep-alive slots
    # (queue workers plus clerks' reads) make the pool close and reopen connections on every
    # call (16 callers: ~30 % fewer calls/s on loopback), and httpcore's sync pool can close a
    # surplus connection it has just handed to a waiting thread (encode/httpcore#1110): that
    # call fails with EBADF or hangs until its read time-out.
    max_keepalive_connections: int = 20
    sign_expired_pattern: str = DEFAULT_SIGN_EXPIRED_PATTERN
    already_received_pattern: str = DEFAULT_ALREADY_RECEIVED_PATTERN
    # a reply larger than this (decoded) is not read on: a whole catalogue is a few MB
    max_reply_bytes: int = 64 * 1024 * 1024
    time_zone: str = "Asia/Shanghai"

    def __post_init__(self) -> None:
        if len(self.institution_code) != 12:
            raise ValueError(f"institution_code must be 12 characters: {self.institution_code!r}")
        if (
            min(self.read_budget_s, self.action_budget_s) <= 0
            or self.connect_timeout_s <= 0
            or self.read_timeout_s <= 0
        ):
            raise ValueError("time-outs and the read budget must be positive")
        if self.max_reply_bytes <= 0:
            raise ValueError("max_reply_bytes must be positive")
        if self.client_key and not self.client_cert:
            raise ValueError("client_key is set but client_cert is not")


def build_http_client(config: UpstreamConfig) -> httpx.Client:
    """A pooled client with the configured time-outs, CA bundle and client certificate.

    One client per process: its connection pool keeps TLS sessions to upstream alive.
    """
    return httpx.Client(
        base_url=config.base_url.rstrip("/") + "/",
        timeout=httpx.Timeout(config.read_timeout_s, connect=config.connect_timeout_s),
        limits=httpx.Limits(
            max_connections=config.max_connections,
            max_keepalive_connections=config.max_keepalive_connections,
        ),
        verify=ssl_context(config),
    )


def ssl_context(config: UpstreamConfig) -> ssl.SSLContext | bool:
    """The system trust store, or one built from ``ca_bundle`` and the client certificate."""
    if not config.ca_bundle and not config.client_cert:
        return True
    context = ssl.create_default_context(cafile=config.ca_bundle or None)
    if config.client_cert:
        context.load_cert_chain(config.client_cert, config.client_key or None)
    return context


def make_auth(
    kind: str,
    *,
    access_key: str = "",
    secret_key: str = "",
    sm4_key: str = "",
    own_private_key: str = "",
    own_public_key: str = "",
    peer_public_key: str = "",
) -> GatewayAuth:
    """The scheme named ``kind`` (``none``, ``hmac``, ``sm``), or ``ValueError`` saying why not."""
    if kind == "none":
        return NoAuth()
    if kind == "hmac":
        return HmacAuth(access_key, secret_key)
    if kind == "sm":
        return SmAuth(
            access_key=access_key,
            sm4_key=sm4_key,
            own_private_key=own_private_key,
            own_public_key=own_public_key,
            peer_public_key=peer_public_key,
        )
    raise ValueError(f"unknown gateway auth {kind!r}: use none, hmac or sm")
