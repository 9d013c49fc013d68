"""Gateway authentication: a pluggable step around every HTTP body (interfaces.md §3).

Provinces differ, so the step is chosen per site (``auth`` in
:class:`~connectors.upstream.config.UpstreamConfig`, built by
:func:`~connectors.upstream.config.make_auth`):

``none``
    the body goes as it is (the simulator's default).
``hmac``
    headers ``X-Access-Key``, ``X-Timestamp`` (Unix milliseconds), ``X-Nonce`` and
    ``X-Signature`` = base64(HMAC-SHA256(secret, ``access_key\\ntimestamp\\nnonce\\n`` +
    hex SHA-256 of the body)). The receiver refuses a timestamp more than
    :data:`MAX_SKEW_S` away from its clock. Replies are not signed.
``sm``
    国密, in :mod:`connectors.upstream.sm_auth`: SM4 body encryption, SM3-with-SM2 signature,
    both ways.

Each scheme is one object used on both sides of the wire: the client calls
:meth:`seal_request` and :meth:`open_reply`; the simulator, configured the same way, calls
:meth:`open_request` and :meth:`seal_reply`. A check that fails raises :class:`AuthFailure`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Protocol

MAX_SKEW_S = 300.0


class AuthFailure(Exception):
    """The gateway signature or encryption did not check out; ``args[0]`` says why (Chinese)."""


class GatewayAuth(Protocol):
    name: str

    def seal_request(self, body: bytes) -> tuple[bytes, dict[str, str]]:
        """The bytes to send and the headers to add, for a request body."""
        ...

    def open_request(self, wire: bytes, headers: Mapping[str, str]) -> bytes:
        """The receiver's side: check and decrypt a request; :class:`AuthFailure` if not valid."""
        ...

    def seal_reply(self, body: bytes) -> tuple[bytes, dict[str, str]]:
        """The receiver's side: the bytes and headers of a reply."""
        ...

    def open_reply(self, wire: bytes, headers: Mapping[str, str]) -> bytes:
        """Check and decrypt a reply; :class:`AuthFailure` if not valid."""
        ...


class NoAuth:
    """No gateway step."""

    name = "none"

    def seal_request(self, body: bytes) -> tuple[bytes, dict[str, str]]:
        return body, {}

    def open_request(self, wire: bytes, headers: Mapping[str, str]) -> bytes:
        return wire

    def seal_reply(self, body: bytes) -> tuple[bytes, dict[str, str]]:
        return body, {}

    def open_reply(self, wire: bytes, headers: Mapping[str, str]) -> bytes:
        return wire


class HmacAuth:
    """HMAC-SHA256 request headers (access key, timestamp, nonce, signature)."""

    name = "hmac"

    def __init__(
        self, access_key: str, secret_key: str, *, now: Callable[[], float] = time.time
    ) -> None:
        if not access_key or not secret_key:
            raise ValueError("auth=hmac needs both access_key and secret_key")
        self._access_key = access_key
        self._secret = secret_key.encode()
        self._now = now

    def signature(self, timestamp: str, nonce: str, body: bytes) -> str:
        text = f"{self._access_key}\n{timestamp}\n{nonce}\n{hashlib.sha256(body).hexdigest()}"
        digest = hmac.new(self._secret, text.encode(), hashlib.sha256).digest()
        return base64.b64encode(digest).decode()

    def seal_request(self, body: bytes) -> tuple[bytes, dict[str, str]]:
        timestamp = str(int(self._now() * 1000))
        nonce = secrets.token_hex(8)
        return body, {
            "X-Access-Key": self._access_key,
            "X-Timestamp": timestamp,
            "X-Nonce": nonce,
            "X-Signature": self.signature(timestamp, nonce, body),
        }

    def open_request(self, wire: bytes, headers: Mapping[str, str]) -> bytes:
        lowered = {k.lower(): v for k, v in headers.items()}
        if lowered.get("x-access-key") != self._access_key:
            raise AuthFailure("网关认证失败：接入标识（access key）不正确")
        timestamp = lowered.get("x-timestamp", "")
        try:
            skew = abs(self._now() - int(timestamp) / 1000)
        except ValueError:
            raise AuthFailure("网关认证失败：缺少或错误的时间戳") from None
        if skew > MAX_SKEW_S:
            raise AuthFailure("网关认证失败：请求时间戳与平台时间相差过大")
        expected = self.signature(timestamp, lowered.get("x-nonce", ""), wire)
        if not hmac.compare_digest(expected, lowered.get("x-signature", "")):
            raise AuthFailure("网关认证失败：签名不正确")
        return wire

    def seal_reply(self, body: bytes) -> tuple[bytes, dict[str, str]]:
        return body, {}

    def open_reply(self, wire: bytes, headers: Mapping[str, str]) -> bytes:
        return wire
