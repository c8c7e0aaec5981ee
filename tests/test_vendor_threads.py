"""The vendor_threads table (schema step "vendor_threads"), on SQLite and PostgreSQL: the first
message of a thread is kept per (target, resource); a second writer changes nothing."""

from __future__ import annotations

from datetime import timedelta

import peewee

from mrt.store.vendor_threads import first_message, remember, thread_key_of
from tests.conftest import FIXTURE_NOW


def test_the_first_message_of_a_thread_wins_per_target_and_resource(
    store_db: peewee.Database,
) -> None:
    pull = thread_key_of("github:vllm-project/vllm", "pull", "40002")
    other = thread_key_of("github:vllm-project/vllm", "pull", "40003")
    assert pull != other and first_message("slack://***/#a", pull) is None

    remember("slack://***/#a", pull, "1700000000.000001", FIXTURE_NOW)
    remember("slack://***/#a", pull, "1700000000.000099", FIXTURE_NOW + timedelta(seconds=5))
    remember("slack://***/#b", pull, "1700000000.000002", FIXTURE_NOW)

    assert first_message("slack://***/#a", pull) == "1700000000.000001"
    assert first_message("slack://***/#b", pull) == "1700000000.000002"
    assert first_message("slack://***/#a", other) is None
