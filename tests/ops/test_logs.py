"""Logs: one JSON object per line with the order, step, attempt, outcome and duration; request ids."""

import importlib
import io
import json
import logging

import pytest
from django.conf import settings

from fulfillment.ops.json_logs import logging_config
from processes import clock
from tests.conftest import ENGINE_DB
from tests.factories import drive, place_order


@pytest.fixture
def json_lines():
    """The lines the production handler (LOG_FORMAT=json) writes for our loggers during the test."""
    config = logging_config(log_format="json")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_build(config["formatters"]["json"]))
    for name in config["handlers"]["console"]["filters"]:
        handler.addFilter(_build(config["filters"][name]))
    loggers = [logging.getLogger(name) for name in ("processes", "log_request_id")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


def _build(spec: dict):
    spec = dict(spec)
    factory = spec.pop("()")
    module, _, name = factory.rpartition(".")
    return getattr(importlib.import_module(module), name)(**spec)


@ENGINE_DB
def test_each_finished_attempt_is_one_json_line(catalogue, json_lines):
    with clock.frozen():
        order = drive(place_order())

    lines = [line for line in json_lines() if line["logger"] == "processes.runner"]
    assert [line["step"] for line in lines] == [
        "charge_payment",
        "reserve_inventory",
        "create_label",
        "pick",
        "send_confirmation",
    ]
    charge = lines[0]
    assert charge["order_id"] == charge["process_id"] == str(order.pk)
    assert (charge["attempt"], charge["outcome"], charge["direction"], charge["level"]) == (
        1,
        "succeeded",
        "forward",
        "INFO",
    )
    assert isinstance(charge["duration_ms"], int)
    assert charge["message"] == "charge_payment forward attempt 1: succeeded"
    assert charge["request_id"] == "none" and "time" in charge


@ENGINE_DB
def test_a_failed_attempt_names_its_error(catalogue, json_lines):
    with clock.frozen():
        drive(place_order(token="tok_declined"))

    charge = next(line for line in json_lines() if line.get("step") == "charge_payment")
    assert (charge["outcome"], charge["error_class"]) == ("failed", "fulfillment.gateways.PaymentDeclined")


@pytest.mark.django_db
def test_web_requests_carry_a_request_id(client, json_lines, settings):
    """Made when the proxy sends none, kept when it does; in the response and the log lines."""
    settings.LOG_REQUESTS = True
    made = client.get("/admin/login/")
    kept = client.get("/admin/login/", HTTP_X_REQUEST_ID="edge-4f2a")

    assert len(made["X-Request-ID"]) == 32
    assert kept["X-Request-ID"] == "edge-4f2a"
    line = json_lines()[-1]
    assert (line["request_id"], line["message"]) == ("edge-4f2a", "method=GET path=/admin/login/ status=200")


def test_development_logs_stay_plain():
    assert settings.LOGGING["handlers"]["console"]["formatter"] == "plain"


def test_django_q_per_task_lines_are_dropped_and_its_others_kept():
    """django-q2's "Enqueued", "processing" and "Processed" INFO lines (one each per task) are
    filtered out; its lines about the cluster and a failed task's ERROR line still go out."""
    config = logging_config(log_format="plain")
    assert config["loggers"]["django-q"]["filters"] == ["queue_per_task"]
    keep = _build(config["filters"]["queue_per_task"]).filter

    def record(func: str, message: str, level: int = logging.INFO) -> logging.LogRecord:
        return logging.LogRecord("django-q", level, "x.py", 1, message, None, None, func=func)

    assert not keep(record("async_task", "Enqueued [django_q:fulfillment:q] 3"))
    processing = "Process-1 processing run fulfillment.order 7 'processes.tasks.run_process'"
    assert not keep(record("worker", processing))
    assert not keep(record("monitor", "Processed 'processes.tasks.run_process' (run fulfillment.order 7)"))
    assert keep(record("worker", "Process-1 ready for work at 12"))
    assert keep(record("monitor", "Failed 'processes.tasks.run_process' (run x) - boom", logging.ERROR))
    assert keep(record("start", "Q Cluster tango-one starting."))
