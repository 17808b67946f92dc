"""What the API's services refuse; fulfillment.api.exception_handler turns each into JSON."""


class IdempotencyKeyReused(Exception):
    """The key came before with a different request body (answered 422)."""


class OrderNotCancellable(Exception):
    """The order went too far to be cancelled by its client: picked, or completed (409)."""


class OrderBusy(Exception):
    """A step of the order is running right now; cancelling can be tried again shortly (409)."""


class InvalidSignature(Exception):
    """A webhook whose signature is missing, wrong or too old (400); nothing was changed."""
