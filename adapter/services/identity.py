"""Identity: who the card says the worker is, and what upstream knows of them now.

Reads call upstream directly (a clerk is waiting; the gateway bounds the wait — one budget
for all the reads of :meth:`Identity.facts`, see :mod:`adapter.domain.budget`) and are
cached in the store as *last seen* — person, suspensions, filings, this institution's
status — inside the use case's own transaction, so a refused or failed use case leaves the
cache as it was. Nothing here holds a unit of work (a pooled connection) while it waits on
upstream: callers read first, then open their transaction. Upstream refusing the card itself
(unknown person, expired or forged e-card token, wrong card identifier) is a refusal for
the clerk (``EL_CARD_REJECTED``), not an upstream fault; an unreachable upstream raises
:class:`UpstreamUnavailable` as is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from adapter.domain.budget import upstream_action
from adapter.domain.errors import (
    EligibilityRefused,
    InvalidMessage,
    UpstreamRejected,
    UpstreamUnavailable,
)
from adapter.domain.filings import Filing
from adapter.domain.institutions import Institution
from adapter.domain.people import (
    CardData,
    CardKind,
    Person,
    identity_key,
    mask_card_no,
    mask_citizen_id,
)
from adapter.domain.rules import Rule
from adapter.domain.upstream import CertType, PersonRecord
from adapter.services.context import ServiceContext
from adapter.services.watch import UpstreamWatch
from adapter.store.uow import UnitOfWork

T = TypeVar("T")

CARD_REJECTED = Rule(
    "EL_CARD_REJECTED",
    "N§18, N§45, B§28",
    "社会保障卡（含电子社保卡）核验未通过：{why}。请核对卡号或身份证号，电子社保卡请刷新后重新出示",
)


@dataclass(frozen=True)
class WorkerFacts:
    """What upstream says now about the worker and this institution."""

    card: CardData
    record: PersonRecord
    filings: tuple[Filing, ...]
    institution: Institution

    @property
    def person(self) -> Person:
        return self.record.person


def check_card(card: CardData) -> None:
    """A card the adapter can look up, or :class:`InvalidMessage` naming the missing field."""
    if card.kind is CardKind.ECARD and not card.qr_token.strip():
        raise InvalidMessage("电子社保卡须提供二维码内容（qr_token）", field="card.qr_token")
    if card.kind is CardKind.PHYSICAL and not (card.card_no.strip() or card.citizen_id.strip()):
        raise InvalidMessage(
            "社会保障卡须提供卡号（card_no）或公民身份号码（citizen_id）", field="card.card_no"
        )


def masked_card(card: CardData) -> dict[str, str]:
    """The card as the audit log may keep it."""
    return {
        "kind": card.kind.value,
        "card_no": mask_card_no(card.card_no),
        "citizen_id": mask_citizen_id(card.citizen_id),
    }


class Identity:
    def __init__(self, ctx: ServiceContext, watch: UpstreamWatch):
        self._ctx = ctx
        self._watch = watch

    def _read(self, call: Callable[[], T]) -> T:
        try:
            result = call()
        except UpstreamUnavailable:
            self._watch.failed(self._ctx.now())
            raise
        self._watch.succeeded()
        return result

    def person(self, card: CardData, *, context: str = "") -> PersonRecord:
        """The worker the card names (WI1102 for an e-card, WI1101 otherwise)."""
        check_card(card)
        with upstream_action():
            return self._person(card, context)

    def _person(self, card: CardData, context: str) -> PersonRecord:
        gateway = self._ctx.gateway
        try:
            if card.kind is CardKind.ECARD:
                return self._read(lambda: gateway.verify_ecard(card.qr_token, context=context))
            if card.card_no:
                return self._read(
                    lambda: gateway.query_person(
                        CertType.SOCIAL_SECURITY_CARD,
                        card.card_no,
                        card_sn=card.card_sn,
                        name=card.name,
                        context=context,
                    )
                )
            return self._read(
                lambda: gateway.query_person(
                    CertType.CITIZEN_ID, card.citizen_id, name=card.name, context=context
                )
            )
        except UpstreamRejected as exc:
            why = exc.upstream_message or exc.message
            raise EligibilityRefused([CARD_REJECTED.refused("card", why=why)]) from exc

    def facts(self, card: CardData, *, context: str = "") -> WorkerFacts:
        """The worker, their filings and this institution's status, as upstream says now.

        One action: the reads share the ``action_budget_s`` of the upstream client."""
        with upstream_action():
            record = self.person(card, context=context)
            return self.facts_for(card, record, context=context)

    def facts_for(self, card: CardData, record: PersonRecord, *, context: str = "") -> WorkerFacts:
        with upstream_action():
            return self._facts_for(card, record, context)

    def _facts_for(self, card: CardData, record: PersonRecord, context: str) -> WorkerFacts:
        gateway = self._ctx.gateway
        person = record.person
        filings = self._read(
            lambda: gateway.query_filings(
                person.psn_no, insuplc_admdvs=person.insured_admdvs, context=context
            )
        )
        institution = self._read(
            lambda: gateway.institution_status(self._ctx.institution.code, context=context)
        )
        return WorkerFacts(card, record, tuple(filings), institution)

    def facts_again(self, person: Person, *, context: str = "") -> WorkerFacts:
        """At discharge, without a card in hand: the worker looked up again by citizen ID."""
        card = CardData(kind=CardKind.PHYSICAL, citizen_id=person.citizen_id, name=person.name)
        return self.facts(card, context=context)

    def verify(self, card: CardData, *, actor: str) -> PersonRecord:
        """Use case *verify identity*: the person upstream knows, cached and audited."""
        record = self.person(card)
        with self._ctx.uow() as uow:
            uow.persons.upsert(record.person)
            uow.suspensions.replace_for(record.person.psn_no, record.suspensions)
            uow.audit.append(
                actor=actor,
                action="identity.verify",
                subject_type="person",
                subject_id=record.person.psn_no,
                details={"card": masked_card(card)},
            )
            uow.commit()
        return record


def cache(uow: UnitOfWork, facts: WorkerFacts) -> None:
    """Keep what upstream said as last seen, in the caller's transaction."""
    person = facts.person
    uow.persons.upsert(person)
    uow.suspensions.replace_for(person.psn_no, facts.record.suspensions)
    uow.filings.upsert(facts.filings)
    uow.institutions.upsert(facts.institution)


def unverified_psn_no(card: CardData) -> str:
    """The worker's key while upstream could not say who they are: the card's own number, in
    the form the store keeps numbers (:func:`~adapter.domain.people.identity_key`), so the
    same card read twice, once ``…137x`` and once ``…137X``, keys one worker."""
    number = identity_key(card.citizen_id) or identity_key(card.card_no)
    return f"?{number or card.qr_token[:40]}"[:64]
