"""SM2 signatures draw their nonce (and key pairs their private key) from ``secrets``.

A nonce drawn from Python's ``random`` is predictable (seedable, and Mersenne Twister state
can be recovered from outputs); two signatures with a known or repeated nonce give away the
private key.
"""

from __future__ import annotations

import random

from connectors.upstream.sm_auth import SmAuth, generate_sm2_keypair

SM4_KEY = "0123456789abcdeffedcba9876543210"


def _pair() -> tuple[SmAuth, SmAuth]:
    own_private, own_public = generate_sm2_keypair()
    peer_private, peer_public = generate_sm2_keypair()
    sender = SmAuth(access_key="AK01", sm4_key=SM4_KEY, own_private_key=own_private,
                    own_public_key=own_public, peer_public_key=peer_public,
                    now=lambda: 1_000_000.0)  # fmt: skip
    receiver = SmAuth(access_key="AK01", sm4_key=SM4_KEY, own_private_key=peer_private,
                      own_public_key=peer_public, peer_public_key=own_public,
                      now=lambda: 1_000_000.0)  # fmt: skip
    return sender, receiver


def test_sm2_signatures_of_one_message_differ_even_when_random_is_seeded_identically() -> None:
    sender, receiver = _pair()
    body = b'{"psn_no":"P001"}'
    random.seed(1234)
    first_wire, first = sender.seal_request(body)
    random.seed(1234)
    second_wire, second = sender.seal_request(body)
    assert first["X-Timestamp"] == second["X-Timestamp"]
    assert first["X-Signature"] != second["X-Signature"]
    assert receiver.open_request(first_wire, first) == body
    assert receiver.open_request(second_wire, second) == body


def test_sm2_key_pairs_do_not_depend_on_the_random_module() -> None:
    random.seed(99)
    first, _ = generate_sm2_keypair()
    random.seed(99)
    second, _ = generate_sm2_keypair()
    assert first != second
