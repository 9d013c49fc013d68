"""Card errors: each failure a clerk can meet at the card reader, with its own code.

    AdapterError
    └── CardError                 the card could not be used; ``message`` is for the clerk
        ├── ReaderUnavailable     the reader is unplugged, or its service is not running
        ├── NoCardPresent         no card in the reader
        ├── CardUnreadable        a card is there but its data cannot be read or parsed
        ├── CardLost              the card is reported lost (挂失) (N§45, B§46)
        ├── TokenExpired          the e-card QR code has expired: refresh it on the phone
        └── TokenInvalid          the e-card QR code is not one upstream issued (forged, mistyped)

Upstream being unreachable while verifying an e-card stays ``UpstreamUnavailable``.
"""

from __future__ import annotations

from adapter.domain.errors import AdapterError


class CardError(AdapterError):
    code = "CARD_ERROR"


class ReaderUnavailable(CardError):
    code = "CARD_READER_UNAVAILABLE"


class NoCardPresent(CardError):
    code = "CARD_NOT_PRESENT"


class CardUnreadable(CardError):
    code = "CARD_UNREADABLE"


class CardLost(CardError):
    code = "CARD_LOST"
    article = "N§45"


class TokenExpired(CardError):
    code = "ECARD_TOKEN_EXPIRED"


class TokenInvalid(CardError):
    code = "ECARD_TOKEN_INVALID"
