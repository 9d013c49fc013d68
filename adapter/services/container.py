"""The services container: every use case, built from explicit dependencies.

The composition root (``adapter/bootstrap.py``) builds one with the real gateway, outbox and
msgid source; tests build one with the simulator's client and a queue-backed outbox::

    services = Services(
        engine=engine,
        gateway=reference_client,          # UpstreamGateway
        outbox=outbox,                     # Outbox (upload_queue.enqueue behind it)
        msgids=msgid_sequence,             # MsgidSource — the same one the gateway uses
        clock=clock,                       # Clock, aware
        institution=InstitutionProfile(code, name, frozenset(kinds), admdvs),
        time_zone="Asia/Shanghai",
        policy=Policy(),                   # deadlines, manual-claim wait, batch size
    )
    app.state.services = services          # the REST routes reach it there
    # the EncounterCommands implementation: both faces, REST and HL7, drive stays through it
    hl7_listener(commands=services.commands)
"""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from adapter.domain.ports import Clock, MsgidSource, Outbox
from adapter.domain.upstream import UpstreamGateway
from adapter.services.admission import Admissions
from adapter.services.commands import ServiceCommands
from adapter.services.context import InstitutionProfile, Policy, ServiceContext
from adapter.services.device_claims import DeviceClaims
from adapter.services.devices import DeviceFittings
from adapter.services.discharge_waits import DischargeWaits
from adapter.services.eligibility import EligibilityService
from adapter.services.fees import Fees
from adapter.services.identity import Identity
from adapter.services.manual_claims import ManualClaims
from adapter.services.rehab import RehabPlans
from adapter.services.revocation import Revocations
from adapter.services.settlement import Settlements
from adapter.services.stay_changes import StayChanges
from adapter.services.stay_fees import StayFees, stay_fee_page, stay_fees
from adapter.services.views import EncounterView, encounter_view
from adapter.services.watch import UpstreamWatch


class Services:
    def __init__(
        self,
        *,
        engine: Engine,
        gateway: UpstreamGateway,
        outbox: Outbox,
        msgids: MsgidSource,
        clock: Clock,
        institution: InstitutionProfile,
        time_zone: str = "Asia/Shanghai",
        policy: Policy | None = None,
    ):
        self.context = ServiceContext(
            engine=engine,
            gateway=gateway,
            outbox=outbox,
            msgids=msgids,
            clock=clock,
            institution=institution,
            zone=ZoneInfo(time_zone),
            policy=policy or Policy(),
        )
        self.watch = UpstreamWatch()
        self.identity = Identity(self.context, self.watch)
        self.eligibility = EligibilityService(self.identity)
        self.admissions = Admissions(self.context, self.identity)
        self.stays = StayChanges(self.context)
        self.fees = Fees(self.context)
        self.rehab = RehabPlans(self.context)
        self.settlements = Settlements(self.context, self.identity)
        self.discharge_waits = DischargeWaits(self.context, self.identity)
        self.revocations = Revocations(self.context)
        self.devices = DeviceFittings(self.context, self.identity)
        self.manual_claims = ManualClaims(self.context, self.identity, self.watch)
        self.device_claims = DeviceClaims(self.context, self.devices, self.manual_claims)
        self.manual_claims.device_switch = self.device_claims.switch_to_direct
        self.commands = ServiceCommands(
            self.context,
            admissions=self.admissions,
            stays=self.stays,
            fees=self.fees,
            settlements=self.settlements,
            revocations=self.revocations,
        )

    def encounter(self, encounter_id: str) -> EncounterView:
        return encounter_view(self.context, encounter_id)

    def stay_fees(
        self, encounter_id: str, line_ids: Sequence[str], *, with_reversals: bool = False
    ) -> StayFees:
        return stay_fees(self.context, encounter_id, line_ids, with_reversals=with_reversals)

    def stay_fee_page(self, encounter_id: str, *, offset: int, limit: int) -> StayFees:
        return stay_fee_page(self.context, encounter_id, offset=offset, limit=limit)
