"""The queue's exceptions, in one hierarchy.

::

    QueueError                      an operator or caller asked for something the queue refuses
    ├── JobNotFound                 no job with that id
    ├── JobNotRetryable             re-send asked for a job that is in flight or delivered
    │   └── JobChanged              …or for one attempted again since the caller looked at it
    └── UnknownKind                 a job's kind has no registered handler
    DeliveryError                   raised by handlers to say how a delivery failed
    ├── TransientDeliveryError      try again later (timeout, 5xx, connection reset)
    └── PermanentDeliveryError      retrying cannot help (4xx validation): the job goes dead
        └── RefusedDeliveryError    the receiver answered that it did not act on it

A handler may raise anything; :class:`DeliveryError` subclasses classify themselves, other
exceptions go through the ``classify`` hook given at registration, and without a hook they
count as transient. The message (``upstream_message``) is what IT sees on the dead-letter list.
A refusal (:class:`RefusedDeliveryError`, or the hook's ``"refused"``) is permanent, and its
attempt is recorded as ``refused``: the job certainly took no effect at the receiver (which
:mod:`upload_queue.withdrawal` relies on). A permanent failure may have had effects.
"""

from __future__ import annotations

from typing import Literal

ErrorKind = Literal["transient", "permanent"]
Verdict = Literal["transient", "permanent", "refused"]
"""What a ``classify`` hook may say: ``refused`` is permanent, and certainly without effect."""


class QueueError(Exception):
    """Base of the queue's refusals; ``message`` is one line for a log or the CLI."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class JobNotFound(QueueError):
    pass


class JobNotRetryable(QueueError):
    pass


class JobChanged(JobNotRetryable):
    """The job was attempted again after the caller read its history (``seen_attempts``)."""


class UnknownKind(QueueError):
    pass


class DeliveryError(Exception):
    """A handler's verdict on a failed delivery, carrying the upstream's own message."""

    kind: ErrorKind = "transient"
    refused: bool = False

    def __init__(self, upstream_message: str) -> None:
        super().__init__(upstream_message)
        self.upstream_message = upstream_message


class TransientDeliveryError(DeliveryError):
    kind: ErrorKind = "transient"


class PermanentDeliveryError(DeliveryError):
    kind: ErrorKind = "permanent"


class RefusedDeliveryError(PermanentDeliveryError):
    """The receiver read the job and answered no: nothing of it took effect there."""

    refused = True
