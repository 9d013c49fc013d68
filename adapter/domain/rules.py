"""Rules and findings: what every decision says about itself.

A :class:`Rule` is a named check with the article it enforces and the sentence a clerk reads
to the worker. A :class:`Finding` is one rule's outcome in one decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    REFUSAL = "refusal"  # direct settlement is not possible
    WARNING = "warning"  # possible, but the clerk should tell the worker something
    PASSED = "passed"  # checked and satisfied


@dataclass(frozen=True)
class Rule:
    code: str
    article: str
    message: str  # Chinese; may hold {placeholders} filled by the check

    def passed(self, **details: object) -> Finding:
        return Finding(self.code, self.article, self.message.format(**details), Severity.PASSED)

    def refused(self, field: str = "", **details: object) -> Finding:
        text = self.message.format(**details)
        return Finding(self.code, self.article, text, Severity.REFUSAL, field)

    def warned(self, field: str = "", **details: object) -> Finding:
        text = self.message.format(**details)
        return Finding(self.code, self.article, text, Severity.WARNING, field)


@dataclass(frozen=True)
class Finding:
    code: str
    article: str
    message: str
    severity: Severity
    field: str = ""

    @property
    def refuses(self) -> bool:
        return self.severity is Severity.REFUSAL


# Where an unfiled worker can file (N§18, N§46, B§28, B§47); shown with every filing refusal:
# the institution helps an unfiled worker to file (N§18, B§28) through the national channels
# (N§46, B§47) or at the insured place's agency.
FILING_CHANNELS = (
    "国家社会保险公共服务平台",
    "人社政务服务平台",
    "掌上12333APP",
    "电子社保卡",
    "参保地经办机构窗口",
)
FILING_CHANNELS_TEXT = (
    "可通过" + "、".join(FILING_CHANNELS) + "向参保地经办机构申请备案（N§18、N§46、B§28、B§47）"
)
