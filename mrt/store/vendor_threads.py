"""Chat threads: which vendor message a resource's first alert became, per target.

    thread_key_of(source_key, resource_type, resource_id) -> str      the resource's identity
    first_message(target_key, thread_key) -> str | None              the id to reply to
    remember(target_key, thread_key, message_id, now)                 the first one wins

A pull request alerted when it was opened and again when merged: both alerts carry the same
thread key (the event's source, resource type and resource id), so a vendor that threads
(Slack's Web API) answers the second in the first's thread. Ids are the vendor's, never a secret.
"""

from __future__ import annotations

from datetime import datetime

from mrt.store.db import bound_database, write_transaction
from mrt.store.models import VendorThread


def thread_key_of(source_key: str | None, resource_type: str, resource_id: str) -> str:
    return f"{source_key or ''}|{resource_type}|{resource_id}"


def first_message(target_key: str, thread_key: str) -> str | None:
    row = VendorThread.get_or_none(
        (VendorThread.target_key == target_key) & (VendorThread.thread_key == thread_key)
    )
    return None if row is None else str(row.message_id)


def remember(target_key: str, thread_key: str, message_id: str, now: datetime) -> None:
    """Keep the first message of a thread; a later one (or a second sender) changes nothing."""
    with write_transaction(bound_database()):
        VendorThread.insert(
            target_key=target_key, thread_key=thread_key, message_id=message_id, created_at=now
        ).on_conflict_ignore().execute()
