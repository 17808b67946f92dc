"""Flow control: how fast a step may call its service, and when it must stop calling it.

A step that calls a service declares a `CircuitPolicy` (processes.policies), and may declare a
flow key (`Step.flow_key`: one carrier account) and a `ServiceLimit`. Per step and key the
engine reads the service's health from the step's latest calls, slows the step while the
service answers fewer than half of them, stops it (its circuit, one row shared by every
worker on every machine) only on evidence of an outage, probes it after a cool-down, and
keeps the limits the service publishes. docs/flow-control.md says what an operator sees.

- `health`: a step's health from its latest finished calls, counted per call and per order.
- `admission`: what the runner asks, under the process row's lock: may this call go now, or
  as the probe; a call failed; a probe got an answer.
- `pacing`: which due calls of a slowed step go now, and how long the others wait.
- `breaker`: the circuit's own changes: open, close, probe rounds, hold and release, alerts.
- `circuit_read`: the circuit row the admission reads before every call (a statement written once).
- `limits`, `limit_state`, `limiter_stores`: published limits, their decision and where
  their shared state lives (the database, or Redis).
- `operators`: what people do: pause, resume, redrive.
- `sweep`: what the sweeper ticks: pauses that end, alerts owed, redrives that died.
- `figures`: what the pages and the metrics read, one `StepFlow` per step and key.

Locks are always taken in the same order: the process row, its circuit, its limiter. Bulk
work on many processes (waking held ones, redrives) runs in transactions of its own that hold
no circuit lock, so the engine's transactions never wait on each other in a cycle.
"""
