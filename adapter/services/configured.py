"""The institution and the workflow policy as ``adapter.toml`` sets them (``[institution]``,
``[policy]``, ``[devices]``): what the composition root hands the services."""

from __future__ import annotations

from datetime import timedelta

from adapter.domain.device_times import FittingTimes
from adapter.domain.stay_times import TimeWindow
from adapter.services.context import InstitutionProfile, Policy
from adapter.settings_sections import DevicesSettings, InstitutionSettings, PolicySettings


def institution_profile(institution: InstitutionSettings) -> InstitutionProfile:
    return InstitutionProfile(
        code=institution.code,
        name=institution.name,
        kinds=frozenset(institution.kinds),
        admdvs=institution.admdvs,
        province=institution.province,
    )


def workflow_policy(policy: PolicySettings, devices: DevicesSettings | None = None) -> Policy:
    devices = devices or DevicesSettings()
    clock_skew = timedelta(minutes=policy.clock_skew_minutes)
    return Policy(
        upload_within=timedelta(minutes=policy.upload_within_minutes),
        admission_upload_within=timedelta(minutes=policy.upload_within_minutes),
        revocation_upload_within=timedelta(minutes=policy.upload_within_minutes),
        rehab_plan_upload_within=timedelta(hours=policy.rehab_plan_upload_within_hours),
        manual_claim_wait=timedelta(minutes=policy.manual_claim_wait_minutes),
        fee_batch_size=policy.fee_batch_size,
        times=TimeWindow(
            clock_skew=clock_skew,
            late_registration=timedelta(days=policy.late_registration_days),
        ),
        fittings=FittingTimes(clock_skew, devices.max_fitting_age_days),
    )
