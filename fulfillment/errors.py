"""Business errors of the order domain, placed in the engine's hierarchy."""

from processes.exceptions import PermanentError, ProcessStateError


class OutOfStock(PermanentError):
    """The warehouse cannot cover a line: the order is compensated at once."""


class InvalidOrder(ValueError):
    """An order request that cannot be placed as given; the message says what is wrong."""


class PickRefused(Exception):
    """A worker's action on a pick task that its current state does not allow; nothing changed.

    The message is written for the worker on the floor.
    """


class PickTaskTaken(PickRefused):
    """Another worker holds the claim on this task."""


class PickTaskNotHeld(PickRefused):
    """Only the worker holding the claim may confirm, release or report a problem."""


class PickTaskHeldForOperator(PickRefused):
    """A worker reported a problem on the task: nobody picks it until an operator decides."""


class PickTaskClosed(PickRefused):
    """The task is done or cancelled, or its order no longer waits for a pick."""


class PickMismatch(PickRefused):
    """The scanned SKUs or counted quantities do not match the order; `errors` says which line."""

    def __init__(self, errors: dict[int, str]):
        self.errors = errors
        super().__init__("; ".join(errors.values()))


class InvalidReturn(ValueError):
    """A return request that cannot be made as given (a line not in the order, too many units);
    the message says what is wrong. Nothing was created."""


class ReturnNotAllowed(Exception):
    """A return request or cancel the order's or return's state refuses (the order is not
    completed, the window has closed, the parcel already arrived); nothing changed."""


class AddressNotChangeable(ProcessStateError):
    """The order's shipping address can no longer change (picked, cancelled, its pick begun), or
    not right now (its label is being made); the message says which."""
