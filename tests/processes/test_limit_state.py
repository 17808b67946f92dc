"""The decision a published service limit makes on its state (no database: the arithmetic)."""

from processes.flow.limit_state import LimiterState, admit, give_back
from processes.policies import ServiceLimit

FIVE_A_SECOND = ServiceLimit("carrier", calls=5, per_seconds=1.0)
TWO_AT_ONCE = ServiceLimit("carrier", concurrency=2)


def ask(state, limit, process="p", now=100.0, waiting=False):
    return admit(
        state, limit, process=process, now=now, lease_ends=now + 25, waiting=waiting, margin=0.1, recheck=5
    )


def test_the_rate_lets_five_go_then_hands_out_slots_one_fifth_of_a_second_apart():
    state = LimiterState()
    assert all(ask(state, FIVE_A_SECOND, f"p{n}", now=100.0 + n / 100).go for n in range(5))
    turns = [ask(state, FIVE_A_SECOND, f"w{n}", now=100.1) for n in range(3)]
    assert [t.go for t in turns] == [False] * 3
    # The oldest call leaves the window (1 s plus the margin) at 101.1; then one per 0.2 s.
    assert [round(t.at, 3) for t in turns] == [101.1, 101.3, 101.5]


def test_a_newcomer_does_not_go_ahead_of_the_calls_waiting_for_a_slot():
    state = LimiterState(recent=[99.0, 99.2, 99.4, 99.6, 99.8])
    waiting = ask(state, FIVE_A_SECOND, "w", now=100.0)
    assert not waiting.go
    newcomer = ask(state, FIVE_A_SECOND, "n", now=waiting.at)  # the log has room now, but a slot is taken
    assert not newcomer.go and newcomer.at > waiting.at
    assert ask(state, FIVE_A_SECOND, "w", now=waiting.at, waiting=True).go  # its turn


def test_never_more_calls_in_any_window_than_the_limit_whatever_the_asking():
    state, admitted = LimiterState(), []
    for n in range(2000):  # a call every 7 ms, each retried at its turn
        now = 100 + n * 0.007
        if ask(state, FIVE_A_SECOND, f"p{n % 50}", now=now, waiting=True).go:
            admitted.append(now)
    assert len(admitted) > 50
    assert all(later - earlier > 1.0 for earlier, later in zip(admitted, admitted[5:], strict=False))


def test_the_concurrency_counts_calls_in_flight_until_they_end_or_their_lease_does():
    state = LimiterState()
    assert ask(state, TWO_AT_ONCE, "a").go and ask(state, TWO_AT_ONCE, "b").go
    held = ask(state, TWO_AT_ONCE, "c")
    assert not held.go and held.at == 105.0  # looks again at the recheck, or when woken
    assert give_back(state, process="a") and not give_back(state, process="a")
    assert ask(state, TWO_AT_ONCE, "c").go
    assert ask(state, TWO_AT_ONCE, "d", now=100 + 26).go  # b's lease ended: its worker died


def test_the_state_round_trips_through_json():
    state = LimiterState(recent=[1.5, 2.5], next_slot=3.0, permits={"p": 9.0})
    assert LimiterState.from_dict(state.as_dict()) == state
    assert LimiterState.from_dict(None) == LimiterState()
