"""Fee lines (费用明细) as the HIS records them, before pricing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from adapter.domain.catalogue import CatalogueKind


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
