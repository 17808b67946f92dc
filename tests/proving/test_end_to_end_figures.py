"""The end-to-end bench's figures and its rule for a rate the machine holds, on made-up steps."""

from fulfillment.proving import e2e_bench
from fulfillment.proving.e2e_figures import highest_steady_rate, step_figures
from fulfillment.proving.e2e_load import Placement

START = 1_000_000.0


def a_step(*, rate=10, seconds=30, label_after=lambda index: 0.3, status=201):
    """Orders due on schedule, each answered 50 ms after it was sent and labelled
    `label_after(index)` seconds after its 201 (its pick task opened a millisecond later)."""
    placements, reached = [], {}
    for index in range(int(rate * seconds)):
        due = START + index / rate
        placement = Placement(scheduled=due, sent=due, answered=due + 0.05, status=status)
        if status == 201:
            placement.order_id = f"order-{index}"
            label = placement.answered + label_after(index)
            reached[placement.order_id] = (label, label + 0.001)
        placements.append(placement)
    return step_figures(rate=rate, seconds=seconds, placements=placements, reached=reached)


def test_a_steady_latency_holds_and_every_order_is_measured():
    step = a_step()

    assert step["held"] and step["not_held_because"] == []
    assert step["sent"] == step["placed"] == step["measured"] == 300
    assert step["to_label_p50_ms"] == step["to_label_p95_ms"] == step["to_label_p99_ms"] == 300.0
    assert step["to_pick_wait_p95_ms"] == 301.0 and step["place_p95_ms"] == 50.0
    assert step["errors"] == {} and step["late_sends"] == 0
    assert 9.9 <= step["achieved_rate"] <= 10


def test_latency_that_grows_through_the_step_does_not_hold():
    """Each order waits 0.1 s longer than the one before: the queue grows without bound."""
    step = a_step(label_after=lambda index: 0.1 * index)

    assert not step["held"]
    assert any("p95 201→label grew" in reason for reason in step["not_held_because"])
    assert any("the backlog grew" in reason for reason in step["not_held_because"])


def test_noise_on_a_small_latency_is_not_growth():
    """From 100 ms to 450 ms is more than twice, but within the 500 ms allowed on top."""
    step = a_step(label_after=lambda index: 0.1 if index < 200 else 0.45)

    assert step["held"], step["not_held_because"]


def test_refused_orders_are_errors_and_the_rate_does_not_hold():
    step = a_step(status=429)

    assert step["errors"] == {"429": 300} and step["placed"] == step["measured"] == 0
    assert not step["held"]
    assert step["to_label_p95_ms"] is None


def test_an_order_that_never_reached_its_pick_fails_the_step():
    placements = [
        Placement(scheduled=START + i, sent=START + i, answered=START + i, status=201) for i in range(3)
    ]
    for index, placement in enumerate(placements):
        placement.order_id = f"order-{index}"
    reached = {"order-0": (START + 1, START + 1), "order-1": (START + 2, START + 2)}

    step = step_figures(rate=1, seconds=3, placements=placements, reached=reached)

    assert step["measured"] == 2
    assert "1 orders did not reach their pick in time" in step["not_held_because"]


def test_the_highest_steady_rate_is_below_the_first_that_did_not_hold():
    steps = [
        {"target_rate": 10, "held": True},
        {"target_rate": 20, "held": True},
        {"target_rate": 25, "held": False},
        {"target_rate": 30, "held": True},  # a lucky step above one that failed does not count
    ]

    assert highest_steady_rate(steps) == 20
    assert highest_steady_rate([{"target_rate": 10, "held": False}]) is None


def ramp(steps, **options):
    bench = e2e_bench.EndToEndBench(rates=(), seconds=60, workers=4, timeout=60, ramp=True, **options)
    return list(e2e_bench._ramp_rates(bench, steps)), bench


def test_the_ramp_starts_above_the_highest_rate_held_and_stops_before_one_that_failed():
    steps = [{"target_rate": 10, "held": True}, {"target_rate": 20, "held": False}]

    assert ramp(steps, ramp_step=5)[0] == [15]
    assert ramp(steps, ramp_step=2)[0] == [12, 14, 16, 18]
    assert ramp([{"target_rate": 4, "held": False}], ramp_step=1)[0] == [1, 2, 3]
    assert ramp([], ramp_step=0.1, max_rate=0.3)[0] == [0.1, 0.2, 0.3]


def test_the_ramp_reached_its_top_only_when_every_step_to_it_held():
    held_to_the_top = [{"phase": "ramp", "target_rate": 5, "held": True}]
    stopped_below = [
        {"phase": "ramp", "target_rate": 1, "held": True},
        {"phase": "rates", "target_rate": 2, "held": False},
    ]

    assert e2e_bench._ramp_about(ramp([], ramp_step=5, max_rate=5)[1], held_to_the_top)["reached_max_rate"]
    assert not e2e_bench._ramp_about(ramp([], ramp_step=1, max_rate=200)[1], stopped_below)[
        "reached_max_rate"
    ]
