"""Fee details (费用明细): recording them, and the billing clerk mapping unknown items.

Record: the encounter must be in hospital (admitted, or its settlement revoked for correction):
the fees of a settled stay are what was settled and uploaded, and change only through a
revocation that upstream is told of (N§47, B§50: 不得篡改作假); lines the settlement holds,
sent again, are answered as recorded (:mod:`.fee_line_ids`). A batch is all or nothing: a line
with bad amounts refuses the batch, naming it (``lines.3``). A ``his_line_id`` already stored
is ignored and reported, never an error (the HIS resends), if it is the same fee; one reused
for another fee (another item, quantity, amount, time or work-injury flag) refuses the batch,
naming it (``FEE_LINE_ID_REUSED``, N§47): a correction is a reversal and a new line, and
dropping it would leave the HIS believing it recorded. A batch naming one line id twice is
refused even when both are the same fee (``FEE_LINE_ID_REPEATED``, N§47), as HL7 refuses an
FT1-2 repeated in one message: two identical boxes are two charges or a HIS fault, and
storing one of them while answering success hides which. A
negative quantity reverses its original: the one named by ``reverses`` or, when the HIS does
not say, the latest earlier charge of the same item with enough quantity left (of the
reversal's work-injury flag, B§29, and at its unit price, if one is). It goes back at the
original's unit price, and the reversal returning the last of the original's quantity
returns exactly the amount left (:func:`adapter.domain.pricing.check_reversal`); it is
priced so that what is left of the original is billed as its remaining quantity would be,
and kept under its category (:func:`_reversing`). A line whose item is not in the treatment
place's catalogue on its date is kept and flagged ``unmapped`` for the billing clerk.

A device fitting (辅助器具配置) takes no fee lines: it is priced from the items and actual costs
entered at the device counter against the notice (N§34, B§34), and a fitting recorded as a
manual-claim case hands over exactly those items (N§38, B§27). Lines sent for one would be
stored and never priced, settled or listed, so they are refused, saying where the costs go.

Each change bumps the encounter's version, so a settlement priced from the fees as they
were a moment ago cannot commit after new fees arrived (it gets a 409 and re-reads).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from adapter.domain.catalogue import Catalogue, CatalogueKind
from adapter.domain.encounters import Encounter, EncounterKind, EncounterStatus
from adapter.domain.errors import DomainError, InvalidTransition, NotFound, PricingError
from adapter.domain.fees import FeeLine, check_amount, check_charge, check_places
from adapter.domain.pricing import NOTHING_TAKEN, Taken, check_reversal, fee_day
from adapter.services.admission import require_aware
from adapter.services.billing import effective_line, line_price, treatment_catalogue
from adapter.services.context import ServiceContext
from adapter.services.fee_line_ids import all_resent, refuse_repeated, refuse_reused
from adapter.services.locks import lock_encounter
from adapter.services.manual_claim_records import open_case
from adapter.store.repositories import EncounterRecord, MappingStatus, StoredFeeLine
from adapter.store.uow import UnitOfWork

OPEN = (EncounterStatus.ADMITTED, EncounterStatus.REVOKED)


@dataclass(frozen=True)
class FeesRecorded:
    encounter: Encounter
    added: tuple[str, ...]
    ignored: tuple[str, ...]  # line ids already stored (the same fee resent)
    unmapped: tuple[str, ...]  # added lines flagged for the billing clerk
    reversals: dict[str, str]  # reversal line id → the original it reverses


def require_open(encounter: Encounter) -> None:
    if encounter.status not in OPEN:
        raise InvalidTransition(
            f"就诊状态为“{encounter.status.label}”，不能再录入或修改费用明细"
            + ("；如需更正请先撤销结算" if encounter.status is EncounterStatus.SETTLED else ""),
            code="ENCOUNTER_NOT_OPEN",
            article="N§47, B§50",
        )


def refuse_device_fees(uow: UnitOfWork, encounter: Encounter) -> None:
    """A fitting's costs are its items as entered at the device counter, never fee lines."""
    if encounter.kind is not EncounterKind.DEVICE:
        return
    claim_id = open_case(uow, encounter.id)
    if claim_id:
        raise DomainError(
            f"该辅助器具配置已按手工报销登记（手工报销记录{claim_id}），费用清单即器具配置柜台"
            "录入的配置项目和实际费用，交付费用清单时原样交参保地经办机构审核报销；"
            "不接收费用明细，未录入任何费用（N§38、B§27）",
            code="DEVICE_CASE_TAKES_NO_FEE_LINES",
            article="N§38, B§27",
        )
    raise DomainError(
        "辅助器具配置按器具配置柜台录入的配置项目和实际费用、依核付通知单结算，"
        "不接收费用明细，未录入任何费用（N§34、B§34）",
        code="DEVICE_TAKES_NO_FEE_LINES",
        article="N§34, B§34",
    )


class _Ledger:
    """What each charge has left to reverse: the stored charges the batch's reversals may
    undo (read by index, with what their stored reversals took back) and the batch so far."""

    def __init__(self, charges: Sequence[StoredFeeLine], taken: dict[str, tuple[Decimal, Decimal]]):
        self.lines: dict[str, FeeLine] = {}
        self.left: dict[str, Decimal] = {}
        self.taken_amount: dict[str, Decimal] = {}  # what its reversals took back (magnitude)
        self.priced_as: dict[str, FeeLine] = {}  # the charge as pricing sees it (mapped)
        for stored in charges:
            self.add(stored)
            quantity, amount = taken.get(stored.line.line_id, (Decimal(0), Decimal(0)))
            self.left[stored.line.line_id] += quantity
            self.taken_amount[stored.line.line_id] -= amount

    def add(self, stored: StoredFeeLine) -> None:
        line = stored.line
        if line.is_reversal:
            self.left[line.reverses] -= -line.quantity
            self.taken_amount[line.reverses] -= line.amount
        else:
            self.lines[line.line_id] = line
            self.left[line.line_id] = line.quantity
            self.taken_amount[line.line_id] = Decimal(0)
            self.priced_as[line.line_id] = effective_line(stored)

    def taken(self, line_id: str) -> Taken:
        """What the charge ``line_id``'s reversals took back so far (stored and batch)."""
        return Taken(self.lines[line_id].quantity - self.left[line_id], self.taken_amount[line_id])

    def original_for(self, line: FeeLine) -> FeeLine | None:
        if line.reverses:
            return self.lines.get(line.reverses)
        wanted = -line.quantity
        candidates = [
            original
            for original in self.lines.values()
            if original.item_code == line.item_code and self.left[original.line_id] >= wanted
        ]
        # The same item charged for the work injury and for another illness (伤病分离, B§29):
        # the reversal undoes a charge of its own flag, which decides who got the money back
        # (the fund, or the worker), when there is one.
        candidates = [c for c in candidates if c.work_injury == line.work_injury] or candidates
        # A reversal goes back at its charge's unit price (check_reversal): of the charges
        # it may undo, the latest at its price, else the latest (and is refused by price).
        same_price = [c for c in candidates if c.unit_price == line.unit_price]
        chosen = same_price or candidates
        return chosen[-1] if chosen else None


class Fees:
    def __init__(self, ctx: ServiceContext):
        self._ctx = ctx

    def record(self, encounter_id: str, lines: Sequence[FeeLine], *, actor: str) -> FeesRecorded:
        ctx = self._ctx
        for index, line in enumerate(lines):
            require_aware(line.occurred_at, f"lines.{index}.occurred_at")
            check_places(line, f"lines.{index}")
            if not line.is_reversal:  # a reversal is checked against its original (_checked)
                check_amount(line, f"lines.{index}.amount")  # one rule for REST and HL7
                check_charge(line, f"lines.{index}.reverses")
        with ctx.uow(immediate=True) as uow:
            lock_encounter(uow, encounter_id)
            record = uow.encounters.get(encounter_id)
            refuse_device_fees(uow, record.encounter)
            if record.encounter.status is EncounterStatus.SETTLED and all_resent(
                uow, encounter_id, lines
            ):
                # Lines the settlement holds, sent again (a lost ACK): they are recorded, and
                # refusing them would tell the HIS the fund did not pay them.
                ids = tuple(dict.fromkeys(line.line_id for line in lines))
                return FeesRecorded(record.encounter, (), ids, (), {})
            require_open(record.encounter)
            ctx.policy.times.check_fees(lines, record.encounter, ctx.now(), zone=ctx.zone)
            # Indexed look-ups of what the batch names, never the whole stay: its line ids,
            # and the charges its reversals may undo (named, or of the same item).
            known = uow.fee_lines.existing_ids(encounter_id, {line.line_id for line in lines})
            reversals_in = [line for line in lines if line.is_reversal]
            charges = (
                uow.fee_lines.charges(
                    encounter_id,
                    {line.reverses for line in reversals_in if line.reverses},
                    {line.item_code for line in reversals_in if not line.reverses},
                )
                if reversals_in
                else []
            )
            taken = uow.fee_lines.reversed_totals(encounter_id, [c.line.line_id for c in charges])
            ledger = _Ledger(charges, taken)
            # The items this batch and the charges it may reverse name, read in one query.
            codes = {line.item_code for line in lines} | {
                line.item_code for line in ledger.priced_as.values()
            }
            catalogue = treatment_catalogue(ctx, uow, codes)
            batch: list[StoredFeeLine] = []
            reversals: dict[str, str] = {}
            repeats: list[str] = []
            # A repeated line id is a resend only if it is the same fee: one sent as another
            # would be dropped while the HIS takes it as recorded (N§47: a correction is a
            # reversal and a new line).
            held = uow.fee_lines.recorded(encounter_id, known) if known else {}
            named: dict[str, int] = {}  # line id → where this batch first names it
            for index, line in enumerate(lines):
                first = named.setdefault(line.line_id, index)
                if line.line_id in known:
                    refuse_reused(line, held.get(line.line_id), index)
                    if first != index:
                        refuse_repeated(line, first, index)
                    repeats.append(line.line_id)
                    continue
                known.add(line.line_id)
                held[line.line_id] = line
                entry = self._checked(line, index, ledger, catalogue)
                if entry.line.is_reversal:
                    reversals[entry.line.line_id] = entry.line.reverses
                ledger.add(entry)
                batch.append(entry)
            added = uow.fee_lines.add(encounter_id, batch) if batch else None
            # The repository also ignores a line a concurrent batch stored a moment ago.
            ignored = tuple(dict.fromkeys(repeats + list(added.ignored if added else ())))
            unmapped = tuple(
                e.line.line_id for e in batch if e.mapping_status is MappingStatus.UNMAPPED
            )
            if batch:
                self._touch(uow, record)
            uow.audit.append(
                actor=actor,
                action="fees.record",
                subject_type="encounter",
                subject_id=encounter_id,
                details={
                    "added": len(added.added) if added else 0,
                    "ignored": list(ignored),
                    "unmapped": list(unmapped),
                    "reversals": reversals,
                },
            )
            uow.commit()
        return FeesRecorded(
            record.encounter,
            added.added if added else (),
            ignored,
            unmapped,
            reversals,
        )

    def _checked(
        self, line: FeeLine, index: int, ledger: _Ledger, catalogue: Catalogue
    ) -> StoredFeeLine:
        basis = None
        if line.is_reversal:
            basis = ledger.original_for(line)
            if basis is None:
                raise PricingError(
                    f"冲销明细{line.line_id}找不到可冲销的原明细"
                    f"（{line.reverses or line.item_code}），或冲销数量超过原明细剩余数量",
                    code="FEE_REVERSAL_UNKNOWN_ORIGINAL",
                    field=f"lines.{index}",
                )
            if ledger.left[basis.line_id] < -line.quantity:
                raise PricingError(
                    f"冲销明细{line.line_id}的数量超过原明细{basis.line_id}的剩余数量",
                    code="FEE_REVERSAL_EXCEEDS_ORIGINAL",
                    field=f"lines.{index}.quantity",
                )
            line = _reversing(line, basis)
            # Its price and amount against the charge's, before anything is priced or stored:
            # the refusal names the field and the batch is refused whole.
            check_reversal(
                line,
                basis,
                basis.quantity - ledger.left[basis.line_id],
                ledger.taken_amount[basis.line_id],
                f"lines.{index}",
            )
        source = basis or line
        try:
            # The price is stored with the line; a reversal is priced as its original is
            # priced (mapped code, date, work-injury flag), leaving what is left of it after
            # the earlier reversals priced as that quantity would be.
            price = line_price(
                self._ctx,
                line,
                ledger.priced_as[basis.line_id] if basis else None,
                catalogue,
                ledger.taken(basis.line_id) if basis else NOTHING_TAKEN,
            )
        except PricingError as exc:
            # The domain prices a line, not a request: name the line in the batch.
            raise PricingError(
                exc.message, code=exc.code, article=exc.article, field=f"lines.{index}"
            ) from exc
        kind = source.category.catalogue_kind
        known = (
            source.category.excluded
            or not source.work_injury
            or line.is_reversal  # follows its original's mapping
            or kind is None
            or kind is CatalogueKind.DEVICE  # paid at the device counter, never mapped here
            # pricing looked the line's own item up on its date: the item it found, if any
            or (price.priced is not None and price.priced.item is not None)
        )
        if known:
            return StoredFeeLine(line, MappingStatus.MAPPED, line.item_code, price)
        return StoredFeeLine(line, MappingStatus.UNMAPPED, "", price)

    def _touch(self, uow: UnitOfWork, record: EncounterRecord) -> None:
        uow.encounters.update(record.encounter, expected_version=record.version)

    def map_line(
        self, encounter_id: str, line_id: str, catalogue_code: str | None, *, actor: str
    ) -> StoredFeeLine:
        """The clerk maps a flagged line to a catalogue item, or (``None``) confirms it as
        out of catalogue (目录外: the worker pays, N§32)."""
        ctx = self._ctx
        with ctx.uow(immediate=True) as uow:
            lock_encounter(uow, encounter_id)
            record = uow.encounters.get(encounter_id)
            require_open(record.encounter)
            entry = uow.fee_lines.find_stored(encounter_id, line_id)
            if entry is None:
                raise NotFound(f"费用明细{line_id}不存在", code="FEE_LINE_NOT_FOUND")
            line = entry.line
            basis = (
                uow.fee_lines.find_stored(encounter_id, line.reverses) if line.is_reversal else None
            )
            mapped = StoredFeeLine(line, MappingStatus.MAPPED, catalogue_code or "")
            reversals = uow.fee_lines.reversals_of(encounter_id, line_id)
            codes = {effective_line(mapped).item_code} | (
                {effective_line(basis).item_code} if basis else set()
            )
            catalogue = treatment_catalogue(ctx, uow, codes)
            kind = line.category.catalogue_kind
            fee_date = fee_day(line, ctx.zone)  # its stored time reads back in UTC
            code = catalogue_code or line.item_code
            item = (
                catalogue.lookup_billed(kind, ctx.institution.admdvs, code, fee_date)
                if kind and kind is not CatalogueKind.DEVICE
                else None
            )
            if catalogue_code and item is None:
                raise DomainError(
                    f"就医地{line.category.label}目录中没有编码为{catalogue_code}、"
                    f"在{fee_date}有效的项目",
                    code="CATALOGUE_ITEM_UNKNOWN",
                    article="N§32",
                    field="catalogue_code",
                )
            if not catalogue_code and item and line.work_injury and not line.is_reversal:
                _refuse_out_of_catalogue(line, item.name, fee_date)
            uow.fee_lines.set_mapping(encounter_id, line_id, catalogue_code or "")
            # The line is priced by its new code now, and so are the reversals that follow it.
            priced_as = effective_line(mapped)
            basis_as = effective_line(basis) if basis else None
            taken = NOTHING_TAKEN  # a reversal mapped: what the reversals before it took back
            if basis is not None:
                for earlier in uow.fee_lines.reversals_of(encounter_id, basis.line.line_id):
                    if earlier.line.line_id == line_id:
                        break
                    taken = taken.plus(earlier.line)
            prices = {line_id: line_price(ctx, priced_as, basis_as, catalogue, taken)}
            taken_back = NOTHING_TAKEN  # each reversal leaves what the earlier ones left
            for reversal in reversals:
                prices[reversal.line.line_id] = line_price(
                    ctx, effective_line(reversal), priced_as, catalogue, taken_back
                )
                taken_back = taken_back.plus(reversal.line)
            uow.fee_lines.set_prices(encounter_id, prices)
            self._touch(uow, record)
            uow.audit.append(
                actor=actor,
                action="fees.map_line",
                subject_type="encounter",
                subject_id=encounter_id,
                details={
                    "line_id": line_id,
                    "item_code": line.item_code,
                    "catalogue_code": catalogue_code or "",
                    "out_of_catalogue": not catalogue_code,
                },
            )
            uow.commit()
        return StoredFeeLine(line, MappingStatus.MAPPED, catalogue_code or "")


def _refuse_out_of_catalogue(line: FeeLine, name: str, on: date) -> None:
    """A line whose own item is in the catalogue on its date is priced by it whatever the
    clerk confirms: "out of catalogue" would change nothing, the fund paying on (N§32)."""
    raise DomainError(
        f"费用明细{line.line_id}的项目{line.item_code}在就医地{line.category.label}目录内"
        f"（{on}有效：{name}），由基金按目录支付，不能确认为目录外；"
        "如HIS编码所指并非该目录项目，请对照到正确的目录编码",
        code="FEE_ITEM_IN_CATALOGUE",
        article="N§32",
        field="out_of_catalogue",
    )


def _reversing(line: FeeLine, original: FeeLine) -> FeeLine:
    """Stored naming its original, under its category whatever charge type the HIS sent:
    priced as that charge (N§32), it is billed and uploaded as it (N§33; a drug returned as
    伙食补助费 was a meal line of fund money, B§30). A resend is still told by the rest."""
    return replace(line, reverses=original.line_id, category=original.category)
