"""Use cases, one transaction each, each writing an audit entry (reads excepted).

Build :class:`~adapter.services.container.Services` with explicit dependencies; its
attributes are the use cases (``identity``, ``eligibility``, ``admissions``, ``fees``,
``rehab``, ``settlements``, ``devices``, ``manual_claims``) and ``commands``, the
:class:`~adapter.domain.commands.EncounterCommands` implementation both faces (REST and HL7) drive.
Upload job payloads: :mod:`adapter.services.payloads`. The workflows' tables:
:mod:`adapter.store.tables.workflow`.
"""
