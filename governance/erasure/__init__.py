"""Erase one person from the landed data, the build database and what is served.

`forget_person(layout, "ID_OR_EMAIL")` finds every alias of the person (`aliases`), then,
holding the landing lock and the warehouse lock (no landing and no build meanwhile), adds a
keyed hash of each identifier to the erasure register (`ingestion.erasure_register`: later
landings and pulls drop the person) and rewrites the landed files without them (`landed`),
both under the register's lock (no API pull writes meanwhile), purges the build database,
rebuilds and publishes whole (`purge`), and appends an audit line that holds no identifier
(`audit`).
"""

from __future__ import annotations

import time

from configuration.settings import Settings
from governance.erasure.aliases import (
    AliasSearchError,
    Identity,
    PersonNotFoundError,
    resolve_identity,
)
from governance.erasure.audit import (
    AUDIT_FILE,
    ErasureSummary,
    append_audit,
    clear_pending,
    is_pending,
    mark_pending,
    request_hash,
)
from governance.erasure.landed import erase_landed, erase_quarantined_lines
from governance.erasure.purge import erase_build_database, rebuild_and_publish
from ingestion.crash import crash_point
from ingestion.erasure_register import DEVICE, STRONG, add_to_register, registering
from ingestion.locks import exclusive_lock
from ingestion.paths import DataLayout
from warehouse.build_state import warehouse_lock

__all__ = [
    "AUDIT_FILE",
    "AliasSearchError",
    "ErasureSummary",
    "Identity",
    "PersonNotFoundError",
    "forget_person",
    "resolve_identity",
]


def register_identity(layout: DataLayout, identity: Identity, pepper: bytes | None) -> int:
    """Add the person's identifiers to the erasure register; returns how many were new.

    Strong identifiers (e-mails, account ids and uuids, `enduser.id`s) drop any record
    naming them; the person's devices drop records that name nobody else. `user_key`s and
    names are not registered: no landed record carries the first, and the second is not
    unique.
    """
    return add_to_register(
        layout,
        {
            STRONG: identity.emails
            | identity.account_ids
            | identity.account_uuids
            | identity.enduser_ids,
            DEVICE: identity.devices,
        },
        pepper,
    )


def forget_person(
    layout: DataLayout, given: str, *, settings: Settings | None = None, rebuild: bool = True
) -> ErasureSummary:
    """Erase the person `given` names from every landed file, the build and the serving side.

    Rerunning finishes an interrupted erasure and is otherwise a no-op on the landed data.
    The person's identifiers stay in the erasure register, so later landings and pulls drop
    them (keyed with `settings.erasure_pepper`, else the per-install key).

    Raises:
        PersonNotFoundError: nothing names the identifier (and nothing was changed).
        AliasSearchError: the person's aliases could not all be found (nothing was changed).
    """
    settings = settings or Settings(data_dir=layout.root)
    started = time.perf_counter()
    summary = ErasureSummary(request_hash=request_hash(layout, given, settings.pii_pepper))
    with (
        exclusive_lock(layout.manifest.with_name(".landing.lock")),
        warehouse_lock(layout),
    ):
        try:
            identity = resolve_identity(layout, given)
        except PersonNotFoundError:
            # An erasure interrupted after the build database was cleaned: only the rebuild
            # and publish remain (the marker holds the request's hash, no identifier).
            if not is_pending(layout, summary.request_hash):
                raise
            identity = None
        mark_pending(layout, summary.request_hash)
        if identity is not None:
            summary.identifiers = identity.counts()
            with registering(layout):
                # Registered first: from here on no landing or pull lands the person again.
                summary.identifiers_registered = register_identity(
                    layout, identity, settings.erasure_pepper
                )
                erase_landed(layout, identity, summary)
                erase_quarantined_lines(layout, identity, summary)
            erase_build_database(layout, identity, summary)
        crash_point("erasure_before_rebuild")
        if rebuild:
            rebuild_and_publish(layout, summary, settings)
            if summary.build_success:
                clear_pending(layout)
    summary.seconds = time.perf_counter() - started
    append_audit(layout, summary)
    return summary
