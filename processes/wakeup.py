"""Wake a process up through the queue: the queue is only a wake-up, never the truth.

A wake-up becomes visible when the transaction that made the process due commits, and the
row's `enqueued_at` remembers it; the sweeper sends another when one looks lost. On the
database broker on the process's own database, the wake-up is written inside that transaction
(one write transaction fewer, and it rolls back with the row); on another broker (Redis) it
is sent after the commit, since it could not roll back.
"""

import logging
import os
import socket
import uuid

from django.db import router, transaction
from django_q.brokers import Broker, get_broker
from django_q.tasks import async_task

from processes import clock, orm_broker

logger = logging.getLogger("processes.wakeup")

RUN_PROCESS_TASK = "processes.tasks.run_process"

# This process's broker, by process id (a forked child makes its own).
_brokers: dict[int, Broker] = {}


def wake_on_commit(process) -> None:
    """Mark the process as enqueued (the caller saves it) and enqueue it with the commit."""
    process.enqueued_at = clock.now()
    send_with_commit(type(process), process.label(), [str(process.pk)])


def send_with_commit(model, label: str, pks: list[str]) -> None:
    """Wake the processes `pks` of `model` when the current transaction commits: written in
    it when the broker is the model's own database, else sent after the commit."""
    if orm_broker.enqueues_commit_with(router.db_for_write(model)):
        # No try here: a failed INSERT has spoilt the transaction, which must then fail whole.
        for pk in pks:
            async_task(RUN_PROCESS_TASK, label, pk, task_name=f"run {label} {pk}", broker=broker())
    else:
        transaction.on_commit(lambda: send_wakeups(label, pks), robust=True)


def send_wakeups(label: str, pks: list[str]) -> None:
    for pk in pks:
        try:
            async_task(RUN_PROCESS_TASK, label, pk, task_name=f"run {label} {pk}", broker=broker())
        except Exception as error:
            # The row is still due: the sweeper re-sends the wake-up after REDELIVER_AFTER. One
            # line, no traceback: while the broker is down every wake-up comes here.
            logger.warning(
                "could not enqueue %s %s (%s: %s); the sweeper will retry",
                label,
                pk,
                type(error).__name__,
                error,
            )


def broker() -> Broker:
    """The broker this process sends its wake-ups through, made once.

    Without one, django-q2's `async_task` makes a broker per call, and for Redis that is a new
    client with its own connection pool: a TCP connection opened (and its database selected)
    for every wake-up, then dropped. Kept, the client's pool reuses its connection, and
    redis-py makes a new one after a fork or when the old one failed."""
    made = _brokers.get(os.getpid())
    if made is None:
        made = _brokers[os.getpid()] = get_broker()
    return made


def worker_name() -> str:
    """A name unique to this attempt's holder: host, process id and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def wake_longest_held(held) -> bool:
    """Make the process of the `held` queryset that has been held longest due now (skipping
    one locked by a claim), in a transaction of its own, and wake it after commit; False when
    none is there."""
    model = held.model
    waiting = held.filter(lease_owner="", needs_attention=False, next_run_at__isnull=False)
    with transaction.atomic():
        longest = waiting.order_by("held_since").select_for_update(skip_locked=True)
        pk = longest.values_list("pk", flat=True).first()
        if pk is None:
            return False
        now = clock.now()
        model.objects.filter(pk=pk).update(next_run_at=now, enqueued_at=now)
        send_with_commit(model, model._meta.label_lower, [str(pk)])
    return True
