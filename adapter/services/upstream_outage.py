"""A full upstream outage met at a desk that may go on as a manual claim (N§38, B§27).

The admission desk and the device counter answer an outage the same way: two ways on, retry
once upstream is back, or record the stay or fitting as a manual-claim case from the start by
sending the same request again with ``manual_claim_if_upstream_down``. Only the message and
the two labels the clerk reads differ, so the shape of ``ways_on`` the pages and the REST
clients read is built here once. Discharge (:mod:`.discharge_waits`) offers other ways on (a
waiting list) and is not one of these.
"""

from __future__ import annotations

from adapter.domain.errors import UpstreamUnavailable


class UpstreamDownAtDesk(UpstreamUnavailable):
    """An outage at a desk: retry later, or a manual-claim case from the start. Subclasses
    declare their own ``code`` and ``article`` (the rules table reads them from the class)."""

    def __init__(self, message: str, *, retry_label: str, manual_claim_label: str) -> None:
        super().__init__(message)
        self.retry_label = retry_label
        self.manual_claim_label = manual_claim_label

    @property
    def problem_extra(self) -> dict[str, object]:
        return {
            "ways_on": [
                {"way": "retry", "label": self.retry_label},
                {
                    "way": "manual_claim",
                    "label": self.manual_claim_label,
                    "request": {"manual_claim_if_upstream_down": True},
                },
            ]
        }
