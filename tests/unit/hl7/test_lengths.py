"""The HL7 face bounds each text field as REST does: one table, held equal to REST's models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from adapter.api.routes.common import CardIn
from adapter.api.routes.encounter_bodies import AdmitIn, CancelIn, DiagnosisIn, FeeLineIn
from connectors.hl7.lengths import BOUNDS


def _max_length(model: type[BaseModel], name: str) -> Any:
    field = model.model_fields[name]
    if field.annotation is not str:  # a list of bounded strings (injury_parts): the items'
        field = field.annotation.__args__[0]  # type: ignore[union-attr]
        return next(m.max_length for m in field.__metadata__ if hasattr(m, "max_length"))
    return next(m.max_length for m in field.metadata if hasattr(m, "max_length"))


def test_every_hl7_bound_is_the_rest_bound_of_the_same_field() -> None:
    models: dict[str, type[BaseModel]] = {
        "card": CardIn, "diagnoses": DiagnosisIn, "lines": FeeLineIn, "reason": CancelIn,
    }  # fmt: skip
    for name, (_label, limit) in BOUNDS.items():
        head, _, field = name.partition(".")
        model = models.get(head, AdmitIn) if field else models.get(name, AdmitIn)
        assert _max_length(model, field or name) == limit, name
