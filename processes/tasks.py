"""django-q2 entry points: each only hands over to the engine (the queue is a wake-up)."""

from processes import bulk, runner, sweeper
from processes.flow import operators


def run_process(label: str, process_id: str) -> int:
    return runner.run_process(label, process_id)


def sweep_loop() -> int:
    return sweeper.sweep_loop()


def run_redrive(redrive_id: int) -> int:
    return operators.run_redrive(redrive_id)


def run_bulk_operation(operation_id: int) -> int:
    return bulk.bulk_run(operation_id)
