"""Write a transaction's step-attempt rows in as few statements as PostgreSQL allows.

A worker that applies a call's answer finishes that attempt's row (an UPDATE) and, going on
along the chain, starts the row of the next call it claims (an INSERT) in the same
transaction. Those were two statements per step, a sixth of a no-op workflow's; here one
statement does both, a data-modifying WITH, so a step costs one round trip and one statement
less. What the rows say, and when they say it, does not change: the running attempt is
still in the database, committed before its call is made, for recovery to find
(processes.leases.abandon); the finished one is still written in the transaction that
applies its answer. Elsewhere (SQLite) the two statements go as they did.

The runner's transactions now write these rows with the process row and its journal in one
statement (processes.step_writes); this is what they fall back to where that cannot be done,
and what finishes an attempt on its own (a failed call that its circuit counts).
"""

from django.db import connections, router
from django.db.models import sql

from processes.models.journal import StepAttempt

Finished = tuple[int, dict]  # an attempt's id and its finished fields (attempts.finished_fields)


def write(started: list[StepAttempt], finished: Finished | None = None) -> None:
    """Insert the `started` attempts and update the `finished` one, in one statement when both
    are there on PostgreSQL; the started attempts get their ids."""
    using = router.db_for_write(StepAttempt)
    if started and finished and connections[using].vendor == "postgresql":
        _finish_and_start(started, finished, using)
        return
    if finished:
        StepAttempt.objects.using(using).filter(pk=finished[0]).update(**finished[1])
    if started:
        StepAttempt.objects.using(using).bulk_create(started)


def _finish_and_start(started: list[StepAttempt], finished: Finished, using: str) -> None:
    """`WITH finished AS (UPDATE ...) INSERT ... RETURNING id`: the ORM builds both statements
    (the fields' conversions stay its own), this only puts them together."""
    update = StepAttempt.objects.filter(pk=finished[0]).query.chain(sql.UpdateQuery)
    update.add_update_values(finished[1])
    update_sql, update_params = update.get_compiler(using).as_sql()

    meta = StepAttempt._meta
    insert = sql.InsertQuery(StepAttempt)
    insert.insert_values([f for f in meta.concrete_fields if not f.primary_key], started)
    compiler = insert.get_compiler(using)
    compiler.returning_fields = [meta.pk]
    [(insert_sql, insert_params)] = compiler.as_sql()

    with connections[using].cursor() as cursor:
        cursor.execute(f"WITH finished AS ({update_sql}) {insert_sql}", (*update_params, *insert_params))
        ids = [row[0] for row in cursor.fetchall()]
    for attempt, pk in zip(started, ids, strict=True):
        attempt.pk = pk
        attempt._state.adding, attempt._state.db = False, using
