"""Picking, in one place: the pick step's tasks, its timers and their thresholds.

- `tasks`: the pick task's services, opened and closed by the workflow's pick step
  (fulfillment.steps.WaitForPick), claimed, released, confirmed and reported by a worker.
- `timers`: every timer of a pick, its setting and who fires it, the final deadline included.
- `conf` and `checks`: the timers' thresholds, read lazily, refused at start-up when wrong.

The warehouse pages (fulfillment.warehouse) and the simulated picker call these services.
"""
