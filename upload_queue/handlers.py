"""Handlers: one per job kind, and how their failures are classified.

A handler is any callable taking a :class:`~upload_queue.jobs.Delivery`; returning means
upstream accepted the job, raising means it did not. How a raised exception counts:

1. :class:`~upload_queue.errors.DeliveryError` subclasses say it themselves
   (``TransientDeliveryError`` / ``PermanentDeliveryError``) and carry upstream's message;
2. otherwise the ``classify`` hook given at registration decides (the composition root maps
   the adapter's ``UpstreamUnavailable`` / ``UpstreamRejected`` here; its ``refused`` is
   permanent, and says the receiver answered that it did not act on it);
3. otherwise the error is transient, recorded as ``TypeName: message``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from upload_queue.errors import DeliveryError, ErrorKind, UnknownKind, Verdict
from upload_queue.jobs import Delivery

log = logging.getLogger("upload_queue")

Handler = Callable[[Delivery], object]
OutcomeHook = Callable[[Delivery], object]
"""Told of a job's outcome once it is committed: ``on_refused`` of a death on a
refusal, ``on_delivered`` of a delivery (see :meth:`Registration.tell_refused`,
:meth:`Registration.tell_delivered`)."""
Classifier = Callable[[BaseException], Verdict | None]


@dataclass(frozen=True)
class Registration:
    kind: str
    handler: Handler
    classify: Classifier | None = None
    on_refused: OutcomeHook | None = None
    on_delivered: OutcomeHook | None = None

    def classify_error(self, exc: BaseException) -> tuple[ErrorKind, str, bool]:
        """The error kind and the message to record for ``exc``, and whether the receiver
        refused it (certainly without effect)."""
        if isinstance(exc, DeliveryError):
            return exc.kind, exc.upstream_message, exc.kind == "permanent" and exc.refused
        verdict = self.classify(exc) if self.classify is not None else None
        text = str(exc)
        message = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
        if verdict == "refused":
            return "permanent", message, True
        return (verdict or "transient"), message, False

    def tell_refused(self, delivery: Delivery) -> bool:
        """Tell the ``on_refused`` hook that ``delivery``'s job went dead on a refusal (once
        that is committed); whether it ran. Its failure is logged, not raised: the outcome is
        recorded already."""
        return _tell(self.on_refused, delivery, "on_refused_failed")

    def tell_delivered(self, delivery: Delivery) -> bool:
        """Tell the ``on_delivered`` hook that ``delivery``'s job was delivered (once that is
        committed); whether it ran. Its failure is logged (``on_delivered_failed``), not
        raised. A crash between the commit and the hook loses the call: a hook does what its
        caller can also have done by hand."""
        return _tell(self.on_delivered, delivery, "on_delivered_failed")


def _tell(hook: OutcomeHook | None, delivery: Delivery, event: str) -> bool:
    if hook is None:
        return False
    try:
        hook(delivery)
    except Exception:
        log.exception(
            "%s job_id=%s kind=%s",
            event,
            delivery.job_id,
            delivery.kind,
            extra={"event": event, "job_id": delivery.job_id, "kind": delivery.kind},
        )
        return False
    return True


class Handlers:
    """The registry of handlers by kind."""

    def __init__(self) -> None:
        self._by_kind: dict[str, Registration] = {}

    def register(
        self,
        kind: str,
        handler: Handler,
        *,
        classify: Classifier | None = None,
        on_refused: OutcomeHook | None = None,
        on_delivered: OutcomeHook | None = None,
    ) -> None:
        """Deliver jobs of ``kind`` with ``handler``; ``classify`` maps foreign exceptions;
        ``on_refused`` hears of each job of ``kind`` that went dead on a refusal,
        ``on_delivered`` of each one delivered."""
        if kind in self._by_kind:
            raise ValueError(f"a handler for job kind {kind!r} is already registered")
        self._by_kind[kind] = Registration(kind, handler, classify, on_refused, on_delivered)

    def get(self, kind: str) -> Registration:
        try:
            return self._by_kind[kind]
        except KeyError:
            raise UnknownKind(f"no handler registered for job kind {kind!r}") from None

    def kinds(self) -> frozenset[str]:
        return frozenset(self._by_kind)
