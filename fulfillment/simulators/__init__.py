"""Simulators of the remote services (payment gateway, carrier, mail), the default in demo and tests.

They behave like remote services: their own ledger tables, written through their own database
connection, idempotency keys honoured as Stripe does, and faults injected on request.
"""
