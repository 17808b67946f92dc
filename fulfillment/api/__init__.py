"""The client REST API under /api/: shops place orders exactly once, follow and cancel them.

An interface only: views validate input, call one service function (order placement behind an
idempotency key, cancellation, provider webhooks) and render. The order domain and the engine
know nothing of it.
"""
