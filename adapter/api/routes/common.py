"""What every route module shares: the services dependency, role aliases, money and time
types for JSON, and the small response pieces (findings, uploads, cards).

Money travels as a string to the fen (``"123.45"``) both ways; a JSON number is accepted on
input but never produced. Times are ISO 8601 with a zone: a naive time is refused, because
guessing its zone is how a settlement's date slips by a day. Every response model derives
from :class:`Out`, which renders every time with the site's offset (``+08:00``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from types import UnionType
from typing import Annotated, Any, ClassVar, Literal, Self, Union, get_args, get_origin

from fastapi import Depends, Path, Response
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from adapter.api.auth import require
from adapter.api.deps import ServicesDep as ServicesDep  # what every route module uses
from adapter.api.zone import in_site_zone
from adapter.domain.money import to_fen
from adapter.domain.people import CardData, CardKind
from adapter.domain.ports import QueuedUpload
from adapter.domain.rules import FILING_CHANNELS, Finding
from adapter.domain.text import control_character, control_message
from adapter.store.tokens import DUTIES, Principal

AnyRole = Annotated[Principal, Depends(require(*DUTIES))]  # the supervisor adds, never opens
Admission = Annotated[Principal, Depends(require("admission", "his"))]
Billing = Annotated[Principal, Depends(require("billing"))]
BillingOrHis = Annotated[Principal, Depends(require("billing", "his"))]
Desk = Annotated[Principal, Depends(require("admission", "billing", "device"))]
Device = Annotated[Principal, Depends(require("device"))]
It = Annotated[Principal, Depends(require("it"))]

# Row ids and offsets fit a 64-bit integer (SQLite INTEGER, PostgreSQL bigint); a larger
# number is a 422 naming the field, not a 500 from the database driver.
MAX_ROW = 2**63 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ROW)]


def _unit_price(value: Decimal) -> str:
    """At least two decimals ("2800.00"); a price below the fen keeps its digits ("0.0125")."""
    exact = format(value.normalize(), "f")
    return exact if len(exact.partition(".")[2]) > 2 else f"{value:.2f}"


# an amount: a string to the fen, always two decimals ("36.50")
Money = Annotated[Decimal, PlainSerializer(lambda v: str(to_fen(v)), return_type=str)]
# a unit price is money per unit, priced to the 0.0001 yuan (QuantityIn): two decimals at
# least, more only when the catalogue prices below the fen
UnitPrice = Annotated[Decimal, PlainSerializer(_unit_price, return_type=str)]
# a count of units, not money: as exact as given ("2", "0.5")
Quantity = Annotated[
    Decimal, PlainSerializer(lambda v: format(v.normalize(), "f"), return_type=str)
]
MoneyIn = Annotated[Decimal, Field(max_digits=14, decimal_places=2, examples=["36.50"])]
QuantityIn = Annotated[Decimal, Field(max_digits=14, decimal_places=4, examples=["2"])]


class Strict(BaseModel):
    """Request bodies: unknown fields are an error naming the field, not silently dropped.

    No text field carries a control character (:mod:`adapter.domain.text`); the fields a
    model names in ``free_text`` may keep TAB, LF and CR.
    """

    model_config = ConfigDict(extra="forbid")
    free_text: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: Any, info: ValidationInfo) -> Any:
        name = info.field_name or ""
        free = name in cls.free_text
        texts = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        for index, text in enumerate(texts):
            char = control_character(text, free_text=free) if isinstance(text, str) else None
            if char is not None:
                # ``item``: which list item (problems.py adds it to the field's path)
                item = {"item": index} if isinstance(value, list) else {}
                raise PydanticCustomError(
                    "control_character", control_message("", char, free_text=free), item
                )
        return value


def examples(*bodies: dict[str, Any]) -> ConfigDict:
    """A strict request model's config with OpenAPI examples."""
    return ConfigDict(extra="forbid", json_schema_extra={"examples": list(bodies)})


class CardIn(Strict):
    """社会保障卡 or 电子社保卡 (N§45, B§46)."""

    kind: Literal["physical", "ecard"] = Field(examples=["physical"])
    card_no: str = Field("", max_length=64, examples=["310100A0001"])
    citizen_id: str = Field("", max_length=18)
    name: str = Field("", max_length=64)
    card_sn: str = Field("", max_length=64)
    qr_token: str = Field("", max_length=512, description="e-card QR content (kind=ecard)")

    def to_domain(self) -> CardData:
        return CardData(
            kind=CardKind(self.kind),
            card_no=self.card_no.strip(),
            citizen_id=self.citizen_id.strip(),
            name=self.name.strip(),
            card_sn=self.card_sn.strip(),
            qr_token=self.qr_token.strip(),
        )


def _may_hold_time(annotation: Any) -> bool:
    """A field whose value can be a ``datetime`` itself (not one inside a list or model)."""
    if annotation is datetime or annotation is Any:
        return True
    if get_origin(annotation) in (Union, UnionType):
        return any(_may_hold_time(arg) for arg in get_args(annotation))
    return False


class Out(BaseModel):
    """A response model: every time leaves in the site's zone (:mod:`adapter.api.zone`)."""

    # The fields that can hold a time, found once per class: a bill answers with thousands of
    # lines, and a validator run on every field of every line cost more than pricing them.
    time_fields: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls.time_fields = tuple(
            name for name, field in cls.model_fields.items() if _may_hold_time(field.annotation)
        )

    @model_validator(mode="after")
    def _site_time(self) -> Self:
        # at construction, not serialisation: a field serializer would replace the money
        # types' own serializers
        values = self.__dict__
        for name in self.time_fields:
            value = values[name]
            if isinstance(value, datetime):
                values[name] = in_site_zone(value)
        return self


MAX_PAGE = 1000  # lines per page of a settlement's lines, or of a stay's
# a page's start: far past any stay's lines; a larger one would not fit the database's
# integer, and answered a 500
MAX_OFFSET = 1_000_000_000


def answer(model: Out, status_code: int = 200) -> Response:
    """``model`` as JSON, serialised once, with the bytes FastAPI would send for it.

    For a returned model FastAPI validates it again against the route's ``response_model``,
    which runs every nested model's validators a second time: for a bill of 10,000 lines that
    cost more than pricing them. A route answering with a stay's lines returns this instead,
    and keeps ``response_model`` for its OpenAPI schema.
    """
    return Response(
        model.model_dump_json(by_alias=True),
        status_code=status_code,
        media_type="application/json",
    )


def out_examples(*bodies: dict[str, Any]) -> ConfigDict:
    """A response model's config with OpenAPI examples."""
    return ConfigDict(json_schema_extra={"examples": list(bodies)})


class FindingOut(Out):
    code: str
    article: str
    field: str
    message: str

    @classmethod
    def of(cls, finding: Finding) -> FindingOut:
        return cls(
            code=finding.code, article=finding.article, field=finding.field, message=finding.message
        )


class UploadOut(Out):
    """The upstream write queued by the use case (delivered by the upload queue)."""

    job_id: int
    infno: str
    msgid: str
    deadline: datetime

    @classmethod
    def of(cls, upload: QueuedUpload) -> UploadOut:
        return cls(
            job_id=upload.job_id, infno=upload.kind, msgid=upload.msgid, deadline=upload.deadline
        )


def filing_channels() -> list[str]:
    return list(FILING_CHANNELS)
