"""Business errors of the order domain, placed in the engine's hierarchy."""

from processes.exceptions import PermanentError


class OutOfStock(PermanentError):
    """The warehouse cannot cover a line: the order is compensated at once."""


class InvalidOrder(ValueError):
    """An order request that cannot be placed as given; the message says what is wrong."""
