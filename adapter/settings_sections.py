"""The sections of the adapter's settings: one model per ``[section]`` of ``adapter.toml``
(``ADAPTER_<SECTION>__<KEY>``), each with its keys, defaults and checks.

:class:`adapter.settings.Settings` puts them together and reads them; a component that needs
only its section (the HTTP server, the scheduler, the upstream client) takes the model here.
"""

from __future__ import annotations

import re
from datetime import UTC
from pathlib import Path
from typing import Literal

from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

# the HIS site profile's file name; a missing one falls back to the packaged profile
DEFAULT_SITE_PROFILE = "hl7_site.toml"

InstitutionKind = Literal["medical", "rehab", "device"]


class Section(BaseModel):
    """A ``[section]``: a key it does not know is refused, not ignored — a misspelt
    ``wokers = 4`` would otherwise leave the default in force without a word."""

    model_config = ConfigDict(extra="forbid")


class InstitutionSettings(Section):
    code: str = Field(pattern=r"^[A-Z0-9]{12}$", description="fixmedins_code, 12 characters")
    name: str = Field(min_length=1)
    kinds: list[InstitutionKind] = Field(min_length=1)
    admdvs: str = Field(pattern=r"^\d{6}$", description="city administrative division code")
    province: str = ""


class DatabaseSettings(Section):
    url: str = "sqlite:///data/adapter.db"
    # SQLite: below this much free space on the database's filesystem /healthz reports the
    # instance not ready (writes are about to fail with DATABASE_FULL)
    min_free_mb: int = Field(default=64, ge=0)
    # connections this process keeps open, and how many more it may open at a peak; a request
    # that finds all of them busy waits at most pool_timeout_s, then gets 503 DATABASE_BUSY
    pool_size: int = Field(default=10, ge=1, le=200)
    max_overflow: int = Field(default=10, ge=0, le=200)
    pool_timeout_s: float = Field(default=5.0, gt=0, le=60)
    # SQLite: "full" syncs every commit to disk before the adapter acknowledges it (an ACK, a
    # settlement survives a power cut); "normal" is faster but may lose the last acknowledged
    # transactions in a power cut or OS crash
    sqlite_synchronous: Literal["full", "normal"] = "full"
    # PostgreSQL: a connection whose other end went silent (a host's power cut) is closed after
    # about this many seconds, so the server releases a dead instance's locks; 0: the OS's (2 h)
    pg_dead_peer_s: int = Field(default=60, ge=0, le=7200)

    @field_validator("url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", value):
            raise ValueError("must start with sqlite:// or postgresql+psycopg://")
        return value


class HttpSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # a request body above this is refused (413) before it is read
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    # a connection must deliver a request head, then its body, within these; otherwise 408 and
    # closed, so slow senders cannot hold connections open (slow-loris)
    header_timeout_s: float = Field(default=10.0, gt=0, le=300)
    body_timeout_s: float = Field(default=60.0, gt=0, le=3600)
    # an idle keep-alive connection is closed after this
    keep_alive_s: float = Field(default=5.0, ge=1, le=300)
    # open connections beyond this get 503 at once instead of exhausting file descriptors
    max_connections: int = Field(default=1000, ge=10)


class ApiSettings(Section):
    """``[api]``: the REST answers."""

    # a settlement answer (settle, GET, revoke) carries at most this many of its lines, in
    # line order, and the URL of the next page (GET /api/v1/settlements/{id}/lines); a stay of
    # 10,000 lines is not one 5 MB answer
    answer_lines: int = Field(default=500, ge=1, le=1000)


class UpstreamSettings(Section):
    dialect: Literal["reference"] = "reference"
    base_url: str = Field(pattern=r"^https?://")
    auth: Literal["none", "hmac", "sm"] = "none"
    access_key: str = ""
    secret_key: SecretStr = SecretStr("")
    # 国密 gateway (auth = "sm"): SM4 body key (32 hex), our SM2 key pair, upstream's public key
    sm4_key: SecretStr = SecretStr("")
    sm2_private_key: SecretStr = SecretStr("")
    sm2_public_key: str = ""
    upstream_sm2_public_key: str = ""
    write_timeout_s: float = Field(default=30.0, gt=0)
    recer_sys_code: str = "WIADAPTER"
    infver: str = "V1.0"
    operator_code: str = "SYS"
    operator_name: str = "系统"
    connect_timeout_s: float = Field(default=3.0, gt=0)
    read_timeout_s: float = Field(default=10.0, gt=0)
    read_budget_s: float = Field(default=6.0, gt=0)
    # all the reads of one action together (an admission: sign-in, person, filings, status)
    action_budget_s: float = Field(default=10.0, gt=0)
    ca_bundle: str = ""
    client_cert: str = ""
    client_key: str = ""
    # how upstream words "sign in again", and a repeated write it already holds (regular
    # expressions over err_msg; a province's own wording is added here)
    sign_expired_pattern: str = r"签到.{0,8}(失效|过期|无效)|sign_no.{0,20}expired"
    already_received_pattern: str = (
        r"重复|已(经)?(接收|收到|受理|上传|存在|处理)|duplicate|already (received|exists|processed)"
    )
    # a reply larger than this is not read on (a whole catalogue is a few MB)
    max_reply_bytes: int = Field(default=64 * 1024 * 1024, gt=0)

    @field_validator("sign_expired_pattern", "already_received_pattern")
    @classmethod
    def _a_pattern(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _credentials_for_auth(self) -> UpstreamSettings:
        needed = {
            "hmac": ("access_key", "secret_key"),
            "sm": ("access_key", "sm4_key", "sm2_private_key", "sm2_public_key"),
        }.get(self.auth, ())
        for name in needed:
            value = getattr(self, name)
            text = value.get_secret_value() if isinstance(value, SecretStr) else value
            if not text:
                raise ValueError(f"upstream.{name} is required when upstream.auth = {self.auth!r}")
        return self


class QueueSettings(Section):
    """The upload queue's runtime: how many workers, how often, and when to raise alarms."""

    workers: int = Field(default=2, ge=0, le=32)
    # deliveries each worker keeps going at once: workers × in_flight upstream calls at most
    in_flight: int = Field(default=4, ge=1, le=64)
    poll_seconds: float = Field(default=1.0, gt=0)
    lease_seconds: int = Field(default=120, ge=10)
    at_risk_minutes: int = Field(default=10, ge=1)
    retention_days: int = Field(default=90, ge=1)
    # names this instance's queue workers; unique among instances sharing a database and
    # stable across restarts (start-up takes back the leases its previous run left). Empty:
    # the host name — set it when two instances run on one host.
    instance_id: str = Field(default="", max_length=60)
    # the delivery ledger (that each upload was delivered, when, upstream's reply) outlives
    # the purged jobs this many months; never fewer than 18: a year's clearing reaches well
    # into the next (N§40, N§43)
    ledger_months: int = Field(default=24, ge=18)


class PolicySettings(Section):
    """Site policy of the workflows; the defaults follow the articles (N§33, N§34, N§38)."""

    # the discharge record and a device settlement are due this long after settlement (30 min)
    upload_within_minutes: int = Field(default=30, ge=1, le=30)
    # the rehab plan is due "before discharge"; without an expected discharge, this long after
    rehab_plan_upload_within_hours: int = Field(default=24, ge=1)
    # upstream unreachable this long before a stay may go to manual reimbursement for it
    manual_claim_wait_minutes: int = Field(default=30, ge=0)
    fee_batch_size: int = Field(default=100, ge=1, le=1000)
    # admission and discharge times may lie this far in the future (the HIS's clock vs ours)
    clock_skew_minutes: int = Field(default=5, ge=0, le=60)
    # ... and this far back: late registration after an outage or a weekend (N§33)
    late_registration_days: int = Field(default=30, ge=1, le=366)


class DevicesSettings(Section):
    """``[devices]``: the device counter (N§34, B§34, B§35)."""

    # how many local days back a fitting's time may lie. No article sets a maximum: a
    # fitting is settled at the counter when the device is handed over (N§34, B§35), and an
    # old day would price against that day's catalogue and start the minimum-years clock
    # then. A week covers a weekend or a public holiday (FITTING_TOO_OLD)
    max_fitting_age_days: int = Field(default=30, ge=0, le=366)


class ScheduleSettings(Section):
    """``[schedule]`` in adapter.toml (``ADAPTER_SCHEDULE__<KEY>``)."""

    enabled: bool = True
    reconciliation: str = "0 6 3 * *"
    deductions: str = "30 6 5,15,25 * *"
    catalogue_sync: str = "0 2 * * *"
    device_funds_reminder: str = "0 9 * * *"
    catch_up_days: int = Field(default=31, ge=0, le=366)
    retry_minutes: float = Field(default=30, gt=0)
    max_attempts: int = Field(default=3, ge=1, le=20)
    device_funds_remind_after_day: int = Field(default=25, ge=1, le=28)
    device_regions: list[str] = Field(default_factory=list)
    # clearing cutoffs: a month's settlements must reach upstream by this day of the next
    # month (N§35, B§33, B§37), and by the eve of the half-yearly clearing tables (N§40, N§43)
    monthly_cutoff_day: int = Field(default=20, ge=1, le=27)
    half_yearly_cutoffs: list[str] = Field(default_factory=lambda: ["01-20", "07-20"], min_length=1)
    # reconciliation again after the monthly cutoff; "auto": 06:00 the day after it (the 21st)
    reconciliation_after_cutoff: str = "auto"
    # audit deductions (WI3202) are fetched for this many past months at each run
    deduction_months: int = Field(default=3, ge=1, le=12)
    # daily housekeeping: expired web sessions, and delivered jobs past queue.retention_days
    housekeeping: str = "0 3 * * *"

    @field_validator("half_yearly_cutoffs")
    @classmethod
    def _month_days(cls, value: list[str]) -> list[str]:
        for text in value:
            if not re.match(r"^(0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])$", text):
                raise ValueError(f"expected MM-DD with a day from 01 to 28, got {text!r}")
        return value

    @model_validator(mode="after")
    def _after_cutoff(self) -> ScheduleSettings:
        if self.reconciliation_after_cutoff == "auto":
            self.reconciliation_after_cutoff = f"0 6 {self.monthly_cutoff_day + 1} * *"
        return self

    @field_validator(
        "reconciliation",
        "deductions",
        "catalogue_sync",
        "device_funds_reminder",
        "reconciliation_after_cutoff",
        "housekeeping",
    )
    @classmethod
    def _cron(cls, value: str) -> str:
        if value.strip() and value.strip() != "auto":
            try:
                CronTrigger.from_crontab(value.strip(), timezone=UTC)
            except ValueError as exc:
                raise ValueError(f"not a cron expression (m h dom mon dow): {exc}") from exc
        return value.strip()


class WebSettings(Section):
    """The pages for clerks and IT (``/web``) and the slip."""

    session_idle_minutes: int = Field(default=30, ge=1)
    session_max_hours: int = Field(default=10, ge=1)
    # cookies only over HTTPS: set when a TLS proxy fronts the adapter
    secure_cookies: bool = False
    # a TrueType CJK font for the slip PDF; empty = ADAPTER_SLIP_FONT or the system's
    slip_font: str = ""
    # sign-in throttling (adapter.web.throttle): this many wrong passwords for one user name,
    # or from one client address, within the window lock it for lockout minutes (IT lifts a
    # lockout early with `wi-adapter user unlock`); 0 turns the address limit off
    signin_max_failures: int = Field(default=5, ge=1, le=100)
    signin_address_max_failures: int = Field(default=20, ge=0, le=10000)
    signin_window_minutes: int = Field(default=15, ge=1, le=24 * 60)
    signin_lockout_minutes: int = Field(default=15, ge=1, le=7 * 24 * 60)
    # scrypt cost of password hashes (N; r=8, p=1): OWASP's minimum 2**17 = 131072; less is
    # refused outside the demo
    password_hash_n: int = Field(default=131072, ge=1024)

    @field_validator("password_hash_n")
    @classmethod
    def _power_of_two(cls, value: int) -> int:
        if value & (value - 1):
            raise ValueError("must be a power of two (131072 = 2**17)")
        return value


class AuditSettings(Section):
    """``[audit]``: the audit chain's key (outside the database) and its anchors."""

    # the HMAC key file (adapter.store.audit_keys); empty: <data_dir>/audit.key, created with
    # mode 0600 on first start. Keep it — and its safe copy — apart from database backups.
    key_file: str = ""
    # the chain's head is appended here (and logged) every anchor_minutes; IT ships the file
    # off the host. Empty: <data_dir>/audit-anchors.jsonl. 0 minutes: only on demand.
    anchor_file: str = ""
    anchor_minutes: int = Field(default=60, ge=0, le=24 * 60)

    def key_path(self, data_dir: Path) -> Path:
        return Path(self.key_file) if self.key_file else data_dir / "audit.key"

    def anchor_path(self, data_dir: Path) -> Path:
        return Path(self.anchor_file) if self.anchor_file else data_dir / "audit-anchors.jsonl"


class CardsSettings(Section):
    """``[cards]``: the social-security card readers at the desks."""

    # the card-reader bridge on each desk's workstation (loopback, docs/card_reader.md); the
    # pages read cards through it from the browser. Empty: no reader, typed or scanned input.
    bridge_url: str = Field(default="http://127.0.0.1:9527", pattern=r"^(https?://[^/\s]+/?)?$")


class HL7Settings(Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=2575, ge=1, le=65535)
    allowed_peers: list[str] = Field(default_factory=list)
    max_message_bytes: int = Field(default=1_048_576, ge=1024)
    # the HIS site profile: does A03 settle at once, fee categories, sending application
    # relative: against the config file's folder; a missing default falls back to the
    # profile packaged with the adapter
    site_profile: str = DEFAULT_SITE_PROFILE
    idle_timeout_s: float = Field(default=300.0, gt=0)
    # TLS for MLLP (PEM paths); empty = plain TCP on the hospital LAN
    tls_cert: str = ""
    tls_key: str = ""
    # threads that store and answer messages; each holds one database connection while it works
    # (on SQLite, A08s waiting in a group commit hold none: one thread commits them all)
    workers: int = Field(default=8, ge=1, le=64)
    # HIS connections open at once; one more is closed at once (one per feed: ADT, billing, …)
    max_connections: int = Field(default=100, ge=1, le=10_000)
    # SQLite: ADT^A08s arriving together share one synced commit (docs/operations.md); false:
    # each is committed on its own (slower; for comparison or while tracing a fault)
    group_commit: bool = True
    # a message stored but never answered (the instance died while processing it) is processed
    # again when the HIS resends it this many seconds after its first receipt; until then the
    # resend waits. Longer than the slowest message takes (a 5,000-line DFT^P03)
    unanswered_takeover_s: float = Field(default=60.0, ge=5, le=3600)


class LoggingSettings(Section):
    """``[logging]``: one line per event on stderr, and optionally a rotating file."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # "json": one JSON object per line; "kv": time level logger event key=value ...
    format: Literal["json", "kv"] = "json"
    # a log file besides stderr (relative: against the config file's folder); empty: none
    file: str = ""
    max_bytes: int = Field(default=10 * 1024 * 1024, ge=4096)
    backup_count: int = Field(default=5, ge=0, le=100)
