"""Identity verification caches what upstream said; an eligibility query writes nothing."""

from __future__ import annotations

from sqlalchemy import Engine

from adapter.domain.encounters import EncounterKind
from adapter.domain.people import CardData, CardKind
from adapter.services.container import Services
from adapter.store.uow import UnitOfWork
from tests.integration.services.helpers import TODAY, card


def _rows(engine: Engine, table: str) -> int:
    with engine.connect() as connection:
        return int(connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())


def test_verify_returns_the_person_caches_them_and_audits_with_the_card_masked(
    services: Services, db: Engine
) -> None:
    record = services.identity.verify(card("P009"), actor="clerk01")
    assert (record.person.psn_no, record.person.name) == ("P009", "周敏")
    assert [s.reason for s in record.suspensions] == ["严重违规：冒名就医"]
    with UnitOfWork(db) as uow:
        assert uow.persons.get("P009") == record.person
        assert [s.psn_no for s in uow.suspensions.for_person("P009")] == ["P009"]
        [entry] = uow.audit.query(action="identity.verify")
    assert entry.details["card"]["card_no"] == "21*******09"


def test_an_eligibility_query_answers_without_writing_anything(
    services: Services, db: Engine
) -> None:
    answer = services.eligibility.query(card("P004"), EncounterKind.MEDICAL, TODAY)
    assert not answer.decision.eligible
    assert [r.code for r in answer.decision.reasons] == ["EL_TREATMENT_PLACE"]
    ecard = CardData(kind=CardKind.ECARD, qr_token="forged")
    refused = services.eligibility.query(ecard, EncounterKind.MEDICAL, TODAY)
    assert [r.code for r in refused.decision.reasons] == ["EL_CARD_REJECTED"]
    for table in ("person", "filing", "institution", "audit_log", "encounter"):
        assert _rows(db, table) == 0, table
