"""Flow control: how fast a step may call its service, and when it must stop calling it.

A step that calls a service declares a `CircuitPolicy` (processes.workflow). The engine keeps,
per step, the service's health from the step's latest attempts and a circuit (one `Circuit` row
shared by every worker on every machine) that stops the step for everyone when its service is
down, probes it after a cool-down and lets the waiting processes go at a gentle rate when it is
back.

- `admission`: what the runner asks, under the process row's lock: may this call go now; a
  call failed; a probe got an answer.
- `breaker`: the circuit's own changes: open, close, hold and release processes, alerts.
- `operators`: what people do: pause, resume, redrive.
- `sweep`: what the sweeper ticks: pauses that end, alerts owed, redrives that died.
- `figures`: what the pages and the metrics read.

Locks are always taken in the same order, the process row first and the circuit row second,
and bulk work on many processes (waking held ones, redrives) runs in transactions of its own
that hold no circuit lock, so the engine's transactions never wait on each other in a cycle.
"""
