"""The engine's one error hierarchy: how a step's failure is to be treated.

A step's action raises one of these (or any other exception, treated as retryable). The retry
policy of the step decides what happens next; see processes.policies.RetryPolicy.
"""


class StepError(Exception):
    """Base class of errors that a step's action raises on purpose."""


class RetryableError(StepError):
    """A transient failure: the same call with the same idempotency key may succeed later."""


class AmbiguousError(RetryableError):
    """The call's outcome is unknown (a timeout): the effect may or may not have happened.

    Never treated as failure: it is resolved by retrying with the same idempotency key, which
    returns the stored outcome if the effect happened.
    """


class OwnTransientError(RetryableError):
    """A transient failure that belongs to this process, not to the service it called.

    The service answered, but cannot serve this process yet: a card whose issuer does not
    answer the payment gateway. Retried like any RetryableError, with the same key; never
    counted against the service's health, so it neither slows nor stops the step for others.
    """


class PermanentError(StepError):
    """A definitive business refusal (card declined, out of stock): retrying cannot help."""


class IllegalTransition(Exception):
    """A transition was asked for that the process's current state does not allow."""


class ProcessStateError(Exception):
    """An engine operation was asked for that the process's engine status does not allow."""


class HeldByCircuit(ProcessStateError):
    """A retry asked for a process its step's circuit holds: it would not get past the circuit.
    `url` is the step's incident page, where the circuit can be resumed."""

    def __init__(self, message: str, *, url: str = ""):
        super().__init__(message)
        self.url = url


class PayloadTooLarge(StepError):
    """A step's result is larger than the journal keeps (PROCESSES['MAX_PAYLOAD_BYTES']).

    Retrying returns the same result, so the engine does not retry: it raises needs-attention
    and keeps the process where it is; the effect the call had is not undone.
    """

    def __init__(self, step: str, size: int, limit: int):
        self.step, self.size, self.limit = step, size, limit
        super().__init__(
            f"the result of step {step!r} is {size} bytes of JSON, over the journal's cap of {limit} bytes"
        )


class ManualResultRefused(ValueError):
    """What an operator entered to do a step by hand will not do as the step's result.

    The message says what is missing or wrong; nothing was changed.
    """
