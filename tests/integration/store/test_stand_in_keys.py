"""Migration 0018: a manual-claim stay kept before numbers were folded (0015) under the card's
number as typed (``?…137x``) is found by a later card read ``…137X`` as the worker's open
stay, so a second stay is not admitted beside it (N§33, N§38, B§27)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from adapter.domain.encounters import Encounter, EncounterKind
from adapter.domain.people import CardData, CardKind
from adapter.services.identity import unverified_psn_no
from adapter.store import migrate
from adapter.store.uow import UnitOfWork

HERE = "H001"
QR = "?eCard-Token-qz7Lm2Vx9KpR4tYw8sBn3HcJf6Ua5Ed"  # a QR token's stand-in: its case is its own


def _stay(visit: str, psn_no: str, kind: EncounterKind = EncounterKind.MEDICAL) -> Encounter:
    return Encounter(
        id=f"E-{visit}",
        kind=kind,
        psn_no=psn_no,
        filing_no="",
        institution_code=HERE,
        his_visit_id=visit,
        admitted_at=datetime(2026, 11, 20, 2, 0, tzinfo=UTC),
    )


def _keys(engine: Engine) -> dict[str, str]:
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT his_visit_id, psn_no FROM encounter").all()
    return {str(visit): str(psn_no) for visit, psn_no in rows}


def test_0018_folds_kept_stand_ins_so_the_card_read_again_finds_the_open_stay(
    engine: Engine,
) -> None:
    migrate.upgrade(engine, "0017")  # the same tables as head: 0018 changes rows only
    with UnitOfWork(engine) as uow:
        for stay in (
            _stay("ZY-1", "?34010219871012137x "),  # as typed before 0015
            _stay("ZY-2", "?ｃａｒｄ９００１", EncounterKind.REHAB),
            _stay("ZY-3", QR),
            _stay("ZY-4", "?310102197803141310"),  # already as compared
        ):
            uow.encounters.add(stay)
        uow.commit()
    card = CardData(CardKind.PHYSICAL, citizen_id="34010219871012137X")
    with UnitOfWork(engine) as uow:  # before: the worker's open stay is not found
        assert uow.encounters.open_stay(HERE, unverified_psn_no(card), "medical") is None
    migrate.upgrade(engine, "0018")
    with UnitOfWork(engine) as uow:
        found = uow.encounters.open_stay(HERE, unverified_psn_no(card), "medical")
        assert found is not None and found.encounter.his_visit_id == "ZY-1"
        rehab = uow.encounters.open_stay(
            HERE, unverified_psn_no(CardData(CardKind.PHYSICAL, card_no="CARD9001")), "rehab"
        )
        assert rehab is not None and rehab.encounter.his_visit_id == "ZY-2"
    assert _keys(engine) == {
        "ZY-1": "?34010219871012137X",
        "ZY-2": "?CARD9001",
        "ZY-3": QR,
        "ZY-4": "?310102197803141310",
    }


def test_0018_leaves_a_second_open_stay_as_typed_rather_than_fail_the_upgrade(
    engine: Engine,
) -> None:
    """The double admission 0015 mended, made before it: one open stay under ``…137X`` and
    one under ``…137x``. Folding the second would break the one-open-stay index; it is left
    as typed (both stay on the desk) and the upgrade completes."""
    migrate.upgrade(engine, "0017")
    with UnitOfWork(engine) as uow:
        uow.encounters.add(_stay("ZY-5", "?34010219871012137X"))
        uow.encounters.add(_stay("ZY-6", "?34010219871012137x"))
        uow.commit()
    migrate.upgrade(engine, "0018")
    assert _keys(engine) == {"ZY-5": "?34010219871012137X", "ZY-6": "?34010219871012137x"}
