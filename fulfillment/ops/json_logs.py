"""The LOGGING setting: one JSON object per line in production, readable lines in development.

JSON lines come from python-json-logger: the standard fields (time, level, logger, message),
the request id of the web request being served (django-log-request-id's filter; "none" in
workers) and every `extra=` field a log call passes. The engine logs each finished step
attempt with `extra={"process_id", "step", "attempt", "outcome", "duration_ms", ...}`
(processes/runner.py), so an order's whole life can be found by its id.
"""

import logging

JSON_FORMATTER = {
    "()": "pythonjsonlogger.json.JsonFormatter",
    "fmt": "%(levelname)s %(name)s %(message)s %(request_id)s",
    "rename_fields": {"levelname": "level", "name": "logger"},
    "timestamp": "time",
}
PLAIN_FORMATTER = {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}
# Loggers of our code and of the libraries whose lines operators need; all go to one handler.
ORDER_PROCESS = "fulfillment.order"
LOGGERS = ("processes", "fulfillment", "django", "django-q", "log_request_id", "gunicorn.error")


def logging_config(*, log_format: str, level: str = "INFO") -> dict:
    """Django's LOGGING dict: every line to stderr, formatted as `log_format` says."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "log_request_id.filters.RequestIDFilter"},
            "order_id": {"()": "fulfillment.ops.json_logs.OrderIdFilter"},
            "queue_per_task": {"()": "fulfillment.ops.json_logs.QueuePerTaskFilter"},
        },
        "formatters": {"json": JSON_FORMATTER, "plain": PLAIN_FORMATTER},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["request_id", "order_id"],
            }
        },
        "loggers": {
            name: {"handlers": ["console"], "level": level, "propagate": False, "filters": _filters(name)}
            for name in LOGGERS
        },
    }


def _filters(logger: str) -> list[str]:
    return ["queue_per_task"] if logger == "django-q" else []


class QueuePerTaskFilter(logging.Filter):
    """Drop django-q2's three INFO lines per task: "Enqueued [queue] n" where a task is sent,
    "Process-… processing <task name> '<function>'" in the worker, "Processed '<function>'
    (<task name>)" in the monitor.

    Every task of ours is a process's wake-up (or a sweeper loop, a redrive, a bulk operation),
    and the engine logs what each did, once per step attempt, with the process, step, outcome
    and worker; these said only that a task passed, and cost each process that wrote them more
    CPU than the broker's own work for that task (docs/performance.md). django-q2's other lines
    (a cluster starting, stopping, a worker recycled or reincarnated, a failed task) are kept.
    """

    PER_TASK = {"async_task": "Enqueued [", "worker": "processing", "monitor": "Processed '"}

    def filter(self, record: logging.LogRecord) -> bool:
        words = self.PER_TASK.get(record.funcName)
        if words is None or record.levelno != logging.INFO:
            return True
        return words not in str(record.msg)


class OrderIdFilter(logging.Filter):
    """Name the order in the engine's lines about an order's process: `order_id` beside `process_id`.

    The engine (processes/) knows processes, not orders; an order's process id is the order's id.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "process_type", None) == ORDER_PROCESS and not hasattr(record, "order_id"):
            record.order_id = record.process_id
        return True
