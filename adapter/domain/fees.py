"""Fee lines (费用明细) as the HIS records them, before pricing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from adapter.domain.catalogue import CatalogueKind
from adapter.domain.errors import PricingError


class FeeCategory(StrEnum):
    DRUG = "drug"  # 药品费
    TREATMENT = "treatment"  # 诊疗费（检查、治疗、手术、材料）
    SERVICE = "service"  # 住院服务费（床位、护理）
    REHAB = "rehab"  # 康复治疗费
    DEVICE = "device"  # 辅助器具
    MEAL = "meal"  # 住院伙食补助费: outside direct settlement (N§3, B§30)
    TRANSPORT = "transport"  # 转诊交通食宿费: outside direct settlement (N§3, B§30)

    @property
    def label(self) -> str:
        return {
            "drug": "药品费",
            "treatment": "诊疗费",
            "service": "住院服务费",
            "rehab": "康复治疗费",
            "device": "辅助器具费",
            "meal": "住院伙食补助费",
            "transport": "交通食宿费",
        }[self.value]

    @property
    def catalogue_kind(self) -> CatalogueKind | None:
        """The catalogue a line of this category is priced against; ``None``: not priced."""
        return _CATALOGUE_OF.get(self)

    @property
    def excluded(self) -> bool:
        """Meal subsidy and referral transport/lodging are reimbursed by the insured place."""
        return self in (FeeCategory.MEAL, FeeCategory.TRANSPORT)


_CATALOGUE_OF = {
    FeeCategory.DRUG: CatalogueKind.DRUG,
    FeeCategory.TREATMENT: CatalogueKind.TREATMENT,
    FeeCategory.SERVICE: CatalogueKind.SERVICE_STANDARD,
    FeeCategory.REHAB: CatalogueKind.REHAB,
    FeeCategory.DEVICE: CatalogueKind.DEVICE,
}


@dataclass(frozen=True)
class FeeLine:
    """One HIS fee line. A negative quantity reverses the line named by ``reverses``."""

    line_id: str  # his_line_id / feedetl_sn, unique within the encounter
    item_code: str
    item_name: str
    category: FeeCategory
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    occurred_at: datetime
    work_injury: bool = True  # False: treatment of a non-work injury (伤病分离, B§29)
    reverses: str = ""  # line_id of the original, for a reversal
    department: str = ""
    unit: str = ""

    @property
    def is_reversal(self) -> bool:
        return self.quantity < 0

    def differs_from(self, recorded: FeeLine) -> str:
        """What makes this line another fee than ``recorded``, the line already held under its
        line id ("" for the same fee sent again): the item, quantity, amount, time and
        work-injury flag it is paid by, and the charge a reversal names, when it names one
        (the one matched by item is filled in when it is recorded)."""
        checks = (
            ("收费项目", self.item_code, recorded.item_code),
            ("数量", self.quantity, recorded.quantity),
            ("金额", self.amount, recorded.amount),
            ("发生时间", self.occurred_at, recorded.occurred_at),
            ("是否工伤", self.work_injury, recorded.work_injury),
            ("冲销的原明细", self.reverses or recorded.reverses, recorded.reverses),
        )
        return "，".join(
            f"{label}{_shown(sent)}（已记录{_shown(held)}）"
            for label, sent, held in checks
            if sent != held
        )


# A line's amount may differ from quantity × unit price by less than one fen: the HIS rounds
# the product to the fen, and a unit price may carry four decimals. Anything more is a typing
# or interface error, and the fund would pay the stated amount (N§32: by the catalogue's
# items and quantities), so the line is refused on every face (REST and HL7 alike).
AMOUNT_TOLERANCE = Decimal("0.01")


def amount_matches(quantity: Decimal, unit_price: Decimal, amount: Decimal) -> bool:
    """``|amount| − |quantity| × unit price`` is under one fen (signs are checked apart:
    a reversal carries a negative quantity and amount and a positive unit price)."""
    return abs(abs(amount) - abs(quantity) * unit_price) < AMOUNT_TOLERANCE


def check_amount(line: FeeLine, field: str = "amount") -> None:
    """Raise :class:`PricingError` (naming ``field``) unless the line's amount matches."""
    if not amount_matches(line.quantity, line.unit_price, line.amount):
        raise PricingError(
            f"费用明细{line.line_id}的金额{line.amount}与数量×单价"
            f"（{line.quantity}×{line.unit_price}）不符（相差须小于0.01元）",
            code="FEE_AMOUNT_MISMATCH",
            article="N§32",
            field=field,
        )


# Quantities and unit prices are kept to four decimals (a drug's unit price may be 0.0123),
# as REST takes them; the amount, to the fen, is what is paid.
PLACES = 4
_QUANTUM = Decimal(1).scaleb(-PLACES)


def check_places(line: FeeLine, prefix: str) -> None:
    """Raise :class:`PricingError` naming ``{prefix}.quantity`` or ``{prefix}.unit_price``
    when either has more than :data:`PLACES` decimals: the line could not be kept, nor
    uploaded (N§33), as sent."""
    for field, label, value in (
        ("quantity", "数量", line.quantity),
        ("unit_price", "单价", line.unit_price),
    ):
        if value != value.quantize(_QUANTUM):
            raise PricingError(
                f"费用明细{line.line_id}的{label}{value}超过{PLACES}位小数，请按{PLACES}位小数发送"
                "（金额按分计）",
                code="FEE_DECIMAL_PLACES",
                article="N§33",
                field=f"{prefix}.{field}",
            )


def check_charge(line: FeeLine, field: str = "reverses") -> None:
    """Raise :class:`PricingError` (naming ``field``) for a charge that names an original.

    Only a reversal (negative quantity) undoes a charge. A charge naming one was counted as
    a reversal of it with its quantity added back: the original could then be reversed
    again, and a bill of 0.00 paid the fund the difference between the two charges' prices
    (N§33, N§47: the details uploaded must be true)."""
    if line.reverses and not line.is_reversal:
        raise PricingError(
            f"费用明细{line.line_id}数量为{line.quantity}（收费），不能填写冲销的原明细"
            f"{line.reverses}：冲销原明细须以负数量发送；新的收费请不填原明细",
            code="FEE_CHARGE_NAMES_ORIGINAL",
            article="N§33, N§47",
            field=field,
        )


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return str(value)
