"""The engine's tables, each module named for what its rows are.

- `process`: `Process`, the abstract row a domain's model extends, with its choices.
- `journal`: the append-only journal, `ProcessEvent` and `StepAttempt`.
- `flow`: circuits, their history and redrives, and published limits' shared state.
- `outbox`: emails to people, sent after commit.
- `workers`: the sweeper loop's lease and the worker clusters' reports.
- `inbox`: events from outside waiting for their process.
- `rollout`: the share of new processes on a workflow's newest version.
- `bulk`: bulk operations over many processes and their items.

Django finds an app's models by importing this package, so it imports every module; code
imports a model from its own module (`from processes.models.flow import Circuit`).
"""

from processes.models import bulk, flow, inbox, journal, outbox, process, rollout, workers  # noqa: F401  (registers them)
