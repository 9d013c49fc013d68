"""国密 gateway authentication: SM4 body encryption and SM3-with-SM2 signatures (``gmssl``).

Both directions use the same scheme; each side signs with its own SM2 private key and checks
the other's signature with the other's public key; the SM4 key is shared.

On the wire the body is JSON ``{"encType": "SM4-CBC", "iv": <hex>, "encData": <base64>}``,
where ``encData`` is SM4-CBC (PKCS#7) of the plain JSON body, and the headers are
``X-Access-Key``, ``X-Timestamp`` (Unix milliseconds), ``X-Sign-Type: SM3withSM2`` and
``X-Signature`` = hex SM2 signature (SM3 with Z, default user id) over
``access_key\\ntimestamp\\n`` + the plain body. A receiver refuses a bad signature, a
timestamp more than :data:`~connectors.upstream.auth.MAX_SKEW_S` away, or a body that does
not decrypt.

Randomness comes from :mod:`secrets` only: gmssl draws a signature's nonce and
``func.random_hex`` from Python's ``random`` module, which is predictable, and a predictable
or repeated SM2 nonce gives away the private key. :func:`_sign` therefore passes gmssl a
nonce of its own, and :func:`generate_sm2_keypair` draws the private key itself.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from collections.abc import Callable, Mapping

from gmssl import sm2, sm4

from connectors.upstream.auth import MAX_SKEW_S, AuthFailure

_ORDER = int(sm2.default_ecc_table["n"], 16)


def _scalar() -> int:
    """A uniformly drawn integer in [1, n − 2] (n: the SM2 curve's order), from ``secrets``:
    valid both as a nonce and as a private key (which must not be n − 1)."""
    return secrets.randbelow(_ORDER - 2) + 1


def _sign(signer: sm2.CryptSM2, data: bytes) -> str:
    """SM3-with-SM2 signature of ``data`` with a fresh secret nonce (never ``random``)."""
    while True:
        signature: str | None = signer.sign_with_sm3(data, f"{_scalar():064x}")
        if signature:  # None for the ~2^-256 nonces that give r = 0 or r + k = n: draw again
            return signature


def _crypt(private_key: str, public_key: str) -> sm2.CryptSM2:
    """gmssl's ``CryptSM2`` holding exactly ``public_key``.

    Its constructor drops a leading ``04`` (the uncompressed-point mark) with
    ``str.lstrip("04")``, which strips every leading ``0`` and ``4``: one public key in 256
    begins with ``04`` and would lose digits, so that every signature check with it fails.
    """
    crypt = sm2.CryptSM2(private_key=private_key, public_key="")
    crypt.public_key = public_key
    return crypt


def generate_sm2_keypair() -> tuple[str, str]:
    """A new SM2 key pair as hex: (private 64 digits, public 128 digits)."""
    private = f"{_scalar():064x}"
    public = _crypt(private, "")._kg(int(private, 16), sm2.default_ecc_table["g"])
    return private, public


def _hex(value: str, digits: int, what: str) -> str:
    try:
        bytes.fromhex(value)
    except ValueError:
        raise ValueError(f"auth=sm: {what} must be {digits} hex digits") from None
    if len(value) != digits:
        raise ValueError(f"auth=sm: {what} must be {digits} hex digits")
    return value


class SmAuth:
    name = "sm"

    def __init__(
        self,
        *,
        access_key: str,
        sm4_key: str,
        own_private_key: str,
        own_public_key: str,
        peer_public_key: str,
        now: Callable[[], float] = time.time,
    ) -> None:
        if not access_key:
            raise ValueError("auth=sm needs access_key")
        self._access_key = access_key
        self._sm4_key = bytes.fromhex(_hex(sm4_key, 32, "sm4_key"))
        self._signer = _crypt(
            _hex(own_private_key, 64, "sm2_private_key"),
            _hex(own_public_key, 128, "sm2_public_key"),
        )
        self._verifier = _crypt("", _hex(peer_public_key, 128, "upstream_sm2_public_key"))
        self._now = now

    def _signed_text(self, timestamp: str, body: bytes) -> bytes:
        return f"{self._access_key}\n{timestamp}\n".encode() + body

    def _seal(self, body: bytes) -> tuple[bytes, dict[str, str]]:
        timestamp = str(int(self._now() * 1000))
        signature = _sign(self._signer, self._signed_text(timestamp, body))
        iv = secrets.token_bytes(16)
        cipher = sm4.CryptSM4()
        cipher.set_key(self._sm4_key, sm4.SM4_ENCRYPT)
        wire = {
            "encType": "SM4-CBC",
            "iv": iv.hex(),
            "encData": base64.b64encode(cipher.crypt_cbc(iv, body)).decode(),
        }
        headers = {
            "X-Access-Key": self._access_key,
            "X-Timestamp": timestamp,
            "X-Sign-Type": "SM3withSM2",
            "X-Signature": signature,
        }
        return json.dumps(wire).encode(), headers

    def _open(self, wire: bytes, headers: Mapping[str, str]) -> bytes:
        lowered = {k.lower(): v for k, v in headers.items()}
        if lowered.get("x-access-key") != self._access_key:
            raise AuthFailure("国密认证失败：接入标识（access key）不正确")
        timestamp = lowered.get("x-timestamp", "")
        try:
            skew = abs(self._now() - int(timestamp) / 1000)
        except ValueError:
            raise AuthFailure("国密认证失败：缺少或错误的时间戳") from None
        if skew > MAX_SKEW_S:
            raise AuthFailure("国密认证失败：时间戳与对方时间相差过大")
        try:
            envelope = json.loads(wire)
            iv = bytes.fromhex(envelope["iv"])
            data = base64.b64decode(envelope["encData"], validate=True)
            cipher = sm4.CryptSM4()
            cipher.set_key(self._sm4_key, sm4.SM4_DECRYPT)
            body: bytes = cipher.crypt_cbc(iv, data)
        except (ValueError, KeyError, TypeError, binascii.Error, IndexError):
            raise AuthFailure("国密认证失败：报文无法解密") from None
        signature = lowered.get("x-signature", "")
        try:
            valid = self._verifier.verify_with_sm3(signature, self._signed_text(timestamp, body))
        except (ValueError, TypeError, binascii.Error):
            valid = False
        if not valid:
            raise AuthFailure("国密认证失败：签名验证不通过")
        return body

    seal_request = _seal
    seal_reply = _seal
    open_request = _open
    open_reply = _open
