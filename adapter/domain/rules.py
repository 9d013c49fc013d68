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


# Where an unfiled worker can file (B§9, B§47, N§46); shown with every filing refusal.
FILING_CHANNELS = (
    "国家社会保险公共服务平台",
    "人社政务服务平台",
    "掌上12333APP",
    "电子社保卡",
    "参保地（区）经办机构窗口",
)
FILING_CHANNELS_TEXT = (
    "可通过" + "、".join(FILING_CHANNELS) + "向参保地经办机构申请备案（B§9、B§47）"
)
