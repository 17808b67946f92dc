"""The engine's settings, read lazily from `settings.PROCESSES` with defaults.

Read at call time, never at import, so tests can override them; `processes.checks` rejects
bad values at start-up with a message that names the key.
"""

from processes.app_settings import AppSettings

DEFAULTS = {
    # Seconds between two sweeps of the sweeper: bounds how late a due retry starts.
    "SWEEP_INTERVAL": 0.5,
    # How long one sweeper loop task (a bare qcluster's fallback; `run_workers` runs a sweeper
    # process instead) loops before handing over to its successor (a worker is busy that long,
    # and a stopping cluster waits for it).
    "SWEEPER_RUN_SECONDS": 10.0,
    # Processes one sweep re-enqueues per workflow at most.
    "SWEEP_BATCH": 500,
    # A wake-up sent this long ago without the process being claimed is taken as lost.
    "REDELIVER_AFTER": 30.0,
    # Extra seconds a lease lasts past the step's attempt timeout.
    "LEASE_GRACE": 5.0,
    # Attempts of one step whose worker died (a crash, a deploy) that do not use up the step's
    # retries; past them a step that keeps killing its workers is treated as failing.
    "FREE_ABANDONED_ATTEMPTS": 3,
    # Steps one task runs back to back before handing the process back to the queue.
    "CHAIN_STEPS": 20,
    # Wall-clock budget of one task's chain, kept well under the queue's task timeout.
    "CHAIN_SECONDS": 20.0,
    # Largest step result (as JSON) the journal stores with its attempt; larger is an error.
    "MAX_PAYLOAD_BYTES": 16384,
    # How often a process held by a step paused with no end looks again (seconds).
    "PAUSE_RECHECK": 300.0,
    # Processes one redrive transaction retries.
    "REDRIVE_BATCH": 50,
    # How long a redrive waits for processes locked by someone else before it ends without them.
    "REDRIVE_LOCK_WAIT": 10.0,
    # A redrive whose task has not reported for this long is started again (seconds).
    "REDRIVE_STALE": 30.0,
    # Processes one transaction of a bulk operation acts on (processes.bulk), and how long its
    # task may go without reporting before the sweeper takes it for dead and enqueues it again.
    "BULK_BATCH": 50,
    "BULK_STALE": 30.0,
    # How long a circuit must stay closed before its incident is over and the "closed" alert
    # goes out (seconds): a service that keeps failing now and then reopens it within the
    # same incident instead of sending an alert pair each time.
    "CIRCUIT_SETTLE": 120.0,
    # Published service limits (processes.flow.limits): seconds added to a rate limit's window
    # for the time between a call's claim and its arrival at the service, which the service
    # counts by; and how long a call held back by a concurrency limit waits at most before it
    # looks again (a call that ends wakes it sooner).
    "LIMIT_MARGIN": 0.1,
    "LIMIT_RECHECK": 5.0,
    # Where the limits' shared state lives: '' for the database (a row lock per limited call),
    # or a redis:// URL (processes.flow.limiter_stores).
    "LIMITS_REDIS_URL": "",
    # Worker supervision (processes.worker_supervisor, `manage.py run_workers`): a cluster is
    # replaced when a task it took waited this long while one of its workers sat idle (the
    # wedge of django-q2 #23), or when it took work and started or finished nothing for the
    # queue's task timeout and half a minute more.
    "WORKER_WEDGE_AFTER": 30.0,
    # The sweeper process beside a cluster is killed and forked again when it gave no sign of
    # life for this long (stuck in a turn: a statement behind a lock or a dead peer; or stopped).
    # A live one is silent at most its longest turn (a sweep of SWEEP_BATCH due processes per
    # workflow; a failing one ends within the database's 5 s connect timeout or EMAIL_TIMEOUT)
    # or its longest pause (BACKOFF_MAX, 5 s), or one email's send (it beats between emails):
    # at least twice the longest of these (processes.checks).
    # On one machine, due work waits this long; replaced well before /readyz calls the
    # sweeper lagging (READYZ_SWEEPER_MAX_LAG, 60 s).
    "SWEEPER_WEDGE_AFTER": 30.0,
    # How long a cluster told to stop may take before it is killed (django-q2 #346: a stop can
    # hang); a wedged one gets at most WEDGED_STOP_GRACE of it.
    "WORKER_STOP_GRACE": 20.0,
    # How often a supervisor reports its cluster, and after how long without a report the
    # pages and /readyz call a cluster silent (its supervisor or machine is gone).
    "WORKER_REPORT_EVERY": 5.0,
    "WORKER_SILENT_AFTER": 30.0,
    # The outbox of emails to people (processes.outbox): a failed send is tried again after
    # OUTBOX_RETRY_FIRST seconds, doubling up to OUTBOX_RETRY_MAX, OUTBOX_ATTEMPTS times in all
    # before the message is marked failed for a person to look at; one delivery round (after a
    # commit, or a sweep) sends at most OUTBOX_BATCH messages.
    "OUTBOX_RETRY_FIRST": 30.0,
    "OUTBOX_RETRY_MAX": 3600.0,
    "OUTBOX_ATTEMPTS": 10,
    "OUTBOX_BATCH": 20,
    # Finished processes whose attempt detail one prune_journal batch deletes.
    "PRUNE_BATCH": 500,
}


SETTINGS = AppSettings("PROCESSES", DEFAULTS)
get = SETTINGS.get
