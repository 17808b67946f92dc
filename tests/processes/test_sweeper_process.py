"""The sweeper process (processes.sweeper_process) and the loop task that is its fallback share
one lease: the process takes it from a loop task, a loop task gives way to a live process at
once, two processes never hold it together, and a failing turn backs off instead of ending.
It gives a sign of life before each turn and each pause, often enough that the supervisor's
default limit never takes a live one for wedged."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import OperationalError
from django_q.models import OrmQ

from processes import clock, sweeper
from processes.models.workers import SweeperLease
from processes.sweeper import (
    BESIDE_A_SWEEPER_PROCESS,
    LOOP_LEASE,
    LOOP_TASK,
    PROCESS_OWNER,
    hold_lease_as_process,
    on_worker_spawn,
    sweep_loop,
)
from processes.sweeper_process import BACKOFF_MAX, SweeperProcess
from processes.worker_supervisor import Limits, diagnose_sweeper
from tests.conftest import ENGINE_DB
from tests.processes.test_sweeper import bulk_orders

pytestmark = ENGINE_DB

PROCESS_A, PROCESS_B = f"{PROCESS_OWNER}a:1:x", f"{PROCESS_OWNER}b:2:y"


class LoopTime:
    """Stands in for the `time` module inside processes.sweeper only: its sleeps pass at once
    and move its monotonic clock on; `forbid_sleep` makes any sleep fail the test."""

    def __init__(self, *, forbid_sleep: bool = False):
        self.now, self.forbid_sleep = 0.0, forbid_sleep

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        if self.forbid_sleep:
            raise AssertionError(f"the loop task waited {seconds} s beside a sweeper process")
        self.now += seconds


def loop_tasks() -> int:
    return sum(message.task["func"] == LOOP_TASK for message in OrmQ.objects.all())


def owner() -> str:
    return SweeperLease.objects.get(name=LOOP_LEASE).owner


def test_a_sweeper_process_takes_the_lease_from_a_loop_task_not_from_another_process():
    with clock.frozen():
        assert sweeper._hold_loop_lease("host:9:task") is True
        assert hold_lease_as_process(PROCESS_A) is True  # a live loop task gives way
        assert owner() == PROCESS_A
        assert sweeper._hold_loop_lease("host:9:task") is False
        assert hold_lease_as_process(PROCESS_B) is False  # another process waits
        assert owner() == PROCESS_A

        clock.advance(timedelta(seconds=sweeper._loop_lease_seconds() + 0.1))  # A died
        assert hold_lease_as_process(PROCESS_B) is True
        assert owner() == PROCESS_B


def test_a_sweeper_process_name_is_checked():
    with pytest.raises(ValueError, match="sweeper-process:"):
        hold_lease_as_process("host:9:task")


def test_a_loop_task_ends_at_once_beside_a_live_sweeper_process(monkeypatch):
    """No watching the lease for seconds, no successor: the worker is free again at once."""
    monkeypatch.setattr(sweeper, "time", LoopTime(forbid_sleep=True))
    assert hold_lease_as_process(PROCESS_A) is True

    assert sweep_loop(run_seconds=5) == 0
    assert owner() == PROCESS_A
    assert loop_tasks() == 0


def test_a_loop_task_taken_over_by_a_sweeper_process_sends_no_successor(monkeypatch):
    sweeps = []

    def sweep_then_lose_the_lease():
        sweeps.append(1)
        hold_lease_as_process(PROCESS_A)  # a sweeper process starts meanwhile and takes over

    monkeypatch.setattr(sweeper, "sweep_once", sweep_then_lose_the_lease)
    monkeypatch.setattr(sweeper, "time", LoopTime())

    assert sweep_loop(run_seconds=60) == 1
    assert owner() == PROCESS_A
    assert loop_tasks() == 0


def test_a_loop_task_alone_still_hands_over_to_a_successor(monkeypatch, settings):
    """The bare-qcluster fallback as before: the loop sweeps every SWEEP_INTERVAL for its run
    time, then enqueues its successor and frees the lease."""
    settings.PROCESSES = {**settings.PROCESSES, "SWEEP_INTERVAL": 0.5}
    monkeypatch.setattr(sweeper, "sweep_once", lambda: 0)
    monkeypatch.setattr(sweeper, "time", LoopTime())

    assert sweep_loop(run_seconds=3) == 6
    assert owner() == ""
    assert loop_tasks() == 1


def test_workers_beside_a_sweeper_process_enqueue_no_loop_task(monkeypatch):
    monkeypatch.setenv(BESIDE_A_SWEEPER_PROCESS, "1")
    on_worker_spawn()
    assert loop_tasks() == 0

    monkeypatch.delenv(BESIDE_A_SWEEPER_PROCESS)
    on_worker_spawn()  # a bare qcluster's worker
    assert loop_tasks() == 1


class Stopping(threading.Event):
    """A stop event whose waits return at once, recording the pauses asked for."""

    def __init__(self, turns: int):
        super().__init__()
        self.turns, self.pauses = turns, []

    def wait(self, timeout=None):
        self.pauses.append(timeout)
        if len(self.pauses) >= self.turns:
            self.set()
        return self.is_set()


def test_failing_turns_back_off_then_the_process_carries_on(settings):
    """The database away for three turns: each is logged and the pause doubles (up to
    BACKOFF_MAX); the next turn sweeps again at SWEEP_INTERVAL, and a stop frees the lease."""
    settings.PROCESSES = {**settings.PROCESSES, "SWEEP_INTERVAL": 0.5}
    outcomes = [OperationalError("the database is away")] * 3 + [None] * 3
    swept = []

    def sweep():
        outcome = outcomes.pop(0)
        if outcome:
            raise outcome
        swept.append(1)

    stopping = Stopping(turns=6)
    process = SweeperProcess(stopping=stopping, sweep=sweep)
    process.run()

    assert stopping.pauses == [1.0, 2.0, 4.0, 0.5, 0.5, 0.5]
    assert len(swept) == 3 and process.failures == 0
    assert owner() == ""  # freed for the next holder
    assert BACKOFF_MAX == 5.0


def test_a_process_that_never_gets_the_lease_waits_without_sweeping():
    assert hold_lease_as_process(PROCESS_A) is True
    stopping = Stopping(turns=3)
    swept = []
    SweeperProcess(stopping=stopping, sweep=lambda: swept.append(1)).run()
    assert swept == []
    assert owner() == PROCESS_A


class TurnClock:
    """The sweeper's time as its beats see it: each pause and each failing turn moves it on."""

    def __init__(self):
        self.now, self.beats = 0.0, []

    def beat(self) -> None:
        self.beats.append(self.now)

    def longest_silence(self) -> float:
        return max(later - earlier for earlier, later in zip(self.beats, self.beats[1:], strict=False))


class PausesMoveTheClock(Stopping):
    def __init__(self, turns: int, clock: TurnClock):
        super().__init__(turns)
        self.clock = clock

    def wait(self, timeout=None):
        self.clock.now += timeout
        return super().wait(timeout)


# What a failing turn takes at most before it raises: the database's connect timeout
# (fulfillment/settings.py), the longest wait of a turn against a server that does not answer.
CONNECT_TIMEOUT = 5.0


def test_a_sweeper_backing_off_still_beats_within_the_default_limit(settings):
    """The database away for eight turns, each failing after the full connect timeout: the
    sweeper beats before each turn and each pause (up to BACKOFF_MAX), so it is never silent
    longer than one of them, and the supervisor's default limit does not call it wedged."""
    settings.PROCESSES = {**settings.PROCESSES, "SWEEP_INTERVAL": 0.5}
    seen = TurnClock()

    def sweep():
        seen.now += CONNECT_TIMEOUT
        raise OperationalError("connection timeout expired")

    stopping = PausesMoveTheClock(turns=8, clock=seen)
    SweeperProcess(stopping=stopping, sweep=sweep, beat=seen.beat).run()

    assert stopping.pauses[-3:] == [BACKOFF_MAX] * 3
    assert len(seen.beats) == 2 * 8
    assert seen.longest_silence() == max(CONNECT_TIMEOUT, BACKOFF_MAX)
    assert diagnose_sweeper(seen.longest_silence(), Limits.configured()) is None


def test_a_sweep_of_a_full_batch_leaves_the_sweeper_far_from_wedged(catalogue, capsys):
    """A real sweep of SWEEP_BATCH due orders (their wake-ups written to the ORM broker, the
    slower of the two), timed: the sweeper's longest silence stays under a third of the
    default limit, so a busy sweeper is not killed as wedged."""
    batch = sweeper.conf.get("SWEEP_BATCH")
    bulk_orders(catalogue.warehouse, batch, next_run_at=clock.now() - timedelta(seconds=1))
    beats = []

    SweeperProcess(stopping=Stopping(turns=2), beat=lambda: beats.append(time.monotonic())).run()

    assert OrmQ.objects.count() == batch  # each due order woken once
    longest = max(later - earlier for earlier, later in zip(beats, beats[1:], strict=False))
    limit = Limits.configured().sweeper_wedge_after
    with capsys.disabled():
        print(f"\n  a sweep of {batch} due orders: silent {longest:.2f} s (limit {limit:g} s)")
    assert diagnose_sweeper(longest, Limits.configured()) is None
    assert longest < limit / 3
