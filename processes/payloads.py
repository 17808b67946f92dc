"""Step results as the journal stores them: JSON, and never larger than the cap.

The journal keeps what each successful call returned (a charge, a label) beside its attempt.
A result over PROCESSES['MAX_PAYLOAD_BYTES'] is refused with PayloadTooLarge naming the step
and the size, rather than silently growing every order's journal.
"""

import dataclasses
import json

from django.core.serializers.json import DjangoJSONEncoder

from processes import conf
from processes.exceptions import PayloadTooLarge


class _Encoder(DjangoJSONEncoder):
    def default(self, o):
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            return dataclasses.asdict(o)
        try:
            return super().default(o)
        except TypeError:
            return repr(o)


def step_payload(step: str, result):
    """The JSON value to store for `result`, or PayloadTooLarge when it passes the cap."""
    if result is None:
        return None
    text = json.dumps(result, cls=_Encoder, separators=(",", ":"), sort_keys=True)
    size, limit = len(text.encode()), conf.get("MAX_PAYLOAD_BYTES")
    if size > limit:
        raise PayloadTooLarge(step, size, limit)
    return json.loads(text)
