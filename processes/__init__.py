"""A reusable engine for durable, step-by-step business processes.

It knows nothing about orders: a domain app declares a workflow (steps, compensations, retry
policies) over a model that extends `processes.models.process.Process`, and the engine runs
it with leases, retries, a journal and a sweeper. This package must never import a domain app.
"""
