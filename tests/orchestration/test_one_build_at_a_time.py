"""The warehouse pool's slot goes to one claimant, however the claims interleave (D3)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from orchestration.lib.pool_storage import AtomicClaimSqliteEventLogStorage

POOL = "warehouse"


@pytest.fixture
def storage(tmp_path: Path) -> AtomicClaimSqliteEventLogStorage:
    storage = AtomicClaimSqliteEventLogStorage(str(tmp_path))
    storage.set_concurrency_slots(POOL, 1)
    return storage


def _holders(storage: AtomicClaimSqliteEventLogStorage) -> set[tuple[str, str]]:
    return {
        (slot.run_id, slot.step_key) for slot in storage.get_concurrency_info(POOL).claimed_slots
    }


def test_it_keeps_the_default_storage_folder(tmp_path: Path) -> None:
    AtomicClaimSqliteEventLogStorage(str(tmp_path))
    assert (tmp_path / "history" / "runs" / "index.db").exists()


def test_a_slot_taken_between_reading_and_writing_is_not_taken_again(storage) -> None:
    """The interleaving that let two runs build at once: both read the free slot, then both
    write it. The second write must find the slot taken and change nothing."""
    with storage.index_connection() as conn:
        slot = storage._free_slot_id(conn, POOL)
    assert slot is not None
    assert storage.claim_concurrency_slot(POOL, "run-a", "dbt").is_claimed
    with storage.index_connection() as conn:
        assert not storage._take_slot(conn, slot, "run-b", "dbt")
    assert _holders(storage) == {("run-a", "dbt")}


def test_the_loser_waits_and_claims_once_the_slot_is_freed(storage) -> None:
    assert storage.claim_concurrency_slot(POOL, "run-a", "dbt").is_claimed
    assert not storage.claim_concurrency_slot(POOL, "run-b", "dbt").is_claimed
    storage.free_concurrency_slot_for_step("run-a", "dbt")
    assert storage.claim_concurrency_slot(POOL, "run-b", "dbt").is_claimed
    assert _holders(storage) == {("run-b", "dbt")}


def _claim_in_rounds(home: str, name: str, rounds: int, barrier, results) -> None:
    storage = AtomicClaimSqliteEventLogStorage(home)
    for round_ in range(rounds):
        run_id = f"{name}-{round_}"
        barrier.wait()  # both processes claim at the same moment
        results.put((round_, storage.claim_concurrency_slot(POOL, run_id, "dbt").is_claimed))
        barrier.wait()  # both have claimed (or been refused) before either frees
        storage.free_concurrency_slots_for_run(run_id)


def test_two_processes_claiming_at_once_never_both_win(tmp_path: Path, storage) -> None:
    """Dagster's own SQLite storage let both processes win 52 of 150 such rounds here."""
    rounds = 60
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    workers = [
        context.Process(
            target=_claim_in_rounds, args=(str(tmp_path), name, rounds, barrier, results)
        )
        for name in ("scheduled", "manual")
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in range(2 * rounds)]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    winners = {round_: 0 for round_ in range(rounds)}
    for round_, claimed in outcomes:
        winners[round_] += claimed
    assert set(winners.values()) == {1}, winners
