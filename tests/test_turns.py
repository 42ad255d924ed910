"""The writers' lock: real ``flock``s on one file, taken through separate opens (two opens of a
file conflict as two processes would), with deadlines that pass and holders that let go."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from caw_lab.store.turns import Turns

pytestmark = pytest.mark.skipif(not Turns.available(), reason="no flock on this platform")


def soon(seconds: float) -> float:
    return time.monotonic() + seconds


@pytest.fixture
def lock_file(tmp_path: Path) -> Path:
    return tmp_path / "w.db-writers"


def test_a_waiter_gets_the_lock_the_moment_it_is_given(lock_file: Path) -> None:
    holder, waiter = Turns(lock_file), Turns(lock_file)
    assert holder.take(soon(1))
    releaser = threading.Timer(0.2, holder.give)
    releaser.start()
    start = time.monotonic()
    assert waiter.take(soon(5))
    assert 0.15 < time.monotonic() - start < 2
    assert not holder.take(soon(0.05)), "the waiter holds it now"
    waiter.give()
    assert holder.take(soon(1))
    for turns in (holder, waiter):
        turns.close()


def test_a_deadline_passes_and_the_lock_stays_with_its_holder(lock_file: Path) -> None:
    holder, waiter = Turns(lock_file), Turns(lock_file)
    assert holder.take(soon(1))
    start = time.monotonic()
    assert not waiter.take(soon(0.3))
    assert 0.25 < time.monotonic() - start < 2
    assert not waiter.take(soon(0)), "a deadline already passed refuses at once"
    holder.give()
    # the waiter's helper, still blocked in the kernel when it gave up, got the lock after
    # the holder gave it, and handed it straight back: anyone may take it now
    assert Turns(lock_file).take(soon(2))


def test_a_writer_that_gave_up_can_wait_again(lock_file: Path) -> None:
    holder, waiter = Turns(lock_file), Turns(lock_file)
    assert holder.take(soon(1))
    assert not waiter.take(soon(0.1))
    threading.Timer(0.2, holder.give).start()
    assert waiter.take(soon(5))
    waiter.give()
    holder.close()
    waiter.close()


def test_closing_while_the_helper_waits_leaves_the_lock_to_others(lock_file: Path) -> None:
    holder, quitter = Turns(lock_file), Turns(lock_file)
    assert holder.take(soon(1))
    assert not quitter.take(soon(0.1))
    quitter.close()  # its helper is still blocked in flock on its own copy of the file
    holder.give()
    other = Turns(lock_file)
    assert other.take(soon(2))
    assert not holder.take(soon(0.1))
    other.give()
    assert holder.take(soon(2))
