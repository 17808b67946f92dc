"""Read request bodies within bounds: a size limit, strict JSON, limited nesting.

A body past `API['MAX_BODY_BYTES']`, bytes that are not UTF-8 JSON, NaN or Infinity, or JSON
nested deeper than MAX_DEPTH are each a 400 with a message, never a 500.
"""

import json

from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser

from fulfillment.api import conf

MAX_DEPTH = 20


class BodyTooLarge(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "body_too_large"
    default_detail = "The request body is too large."


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser with a size limit and a nesting limit."""

    def parse(self, stream, media_type=None, parser_context=None):
        return json_loads_bounded(read_bounded(stream))


def read_bounded(stream) -> bytes:
    """Read at most API['MAX_BODY_BYTES'] from `stream` (a request), or raise BodyTooLarge."""
    limit = conf.get("MAX_BODY_BYTES")
    raw = stream.read(limit + 1) if stream is not None else b""
    if len(raw) > limit:
        raise BodyTooLarge(f"The request body is larger than {limit} bytes.")
    return raw


def json_loads_bounded(raw: bytes):
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"The body is not valid JSON: {exc}") from None
    if _deeper_than(data, MAX_DEPTH):
        raise ParseError(f"The body is nested more than {MAX_DEPTH} levels deep.")
    return data


def refuse_unstorable_text(data) -> None:
    """Raise ParseError if a string in `data` holds a NUL or an unpaired surrogate.

    PostgreSQL stores neither in JSON, so a body kept whole (a webhook's event) is checked first.
    """
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str) and ("\x00" in value or not _encodable(value)):
            raise ParseError("The body holds a NUL character or an unpaired surrogate.")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _deeper_than(data, limit: int) -> bool:
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(value, dict):
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
    return False
