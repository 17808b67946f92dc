"""One DBOS Transact executor for the noop bench's peer: `python -m fulfillment.proving.dbos_executor`.

The same five no-op steps as our noop workflow (fulfillment.proving.noop_workflow), as a DBOS
workflow of five steps that return at once, each checkpointed by DBOS. The bench starts as many
of these processes as our cluster has workers, each with its own executor id (DBOS counts a
queue's `worker_concurrency` per executor id), all on one queue of one system database.

Plain Python, no Django: a DBOS executor is a process of its own, as it would be deployed. It
touches a file named after its executor id once it listens, and stops on SIGTERM. Nothing here
reaches the internet: no Conductor key is ever given.
"""

import argparse
import signal
import threading
from pathlib import Path

from dbos import DBOS

STEPS = 5
WORKFLOW = "bench_noop"
QUEUE = "bench_noop"
APPLICATION = "fulfillment-bench"
# Fixed, so that the executors and the bench's client agree without hashing the code.
VERSION = "bench-noop-1"
# The application name of the executors' database sessions: the bench finds their backends by it.
SESSIONS = "bench-peer-dbos"


@DBOS.step(name="bench_noop_call")
def noop_call(step: int) -> int:
    """The call out: returns at once; DBOS checkpoints its output."""
    return step


@DBOS.workflow(name=WORKFLOW)
def noop_workflow() -> int:
    for step in range(STEPS):
        noop_call(step)
    return STEPS


def executor_config(*, url: str, executor_id: str) -> dict:
    return {
        "name": APPLICATION,
        "system_database_url": url,
        "executor_id": executor_id,
        "application_version": VERSION,
        "db_engine_kwargs": {"connect_args": {"application_name": SESSIONS}},
        # The bench migrates the system database once, before any executor starts.
        "run_migrations": False,
        "log_level": "WARNING",
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="The system database's URL.")
    parser.add_argument("--executor-id", required=True)
    parser.add_argument("--concurrency", type=int, required=True, help="The queue's worker_concurrency.")
    parser.add_argument("--polling", type=float, required=True, help="The queue's polling_interval_sec.")
    parser.add_argument("--ready-dir", required=True, help="Where to touch <executor id>.ready.")
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    DBOS(config=executor_config(url=args.url, executor_id=args.executor_id))
    DBOS.launch()
    DBOS.register_queue(
        QUEUE,
        worker_concurrency=args.concurrency,
        polling_interval_sec=args.polling,
        on_conflict="always_update",
    )
    (Path(args.ready_dir) / f"{args.executor_id}.ready").touch()
    stop.wait()
    DBOS.destroy()


if __name__ == "__main__":
    main()
