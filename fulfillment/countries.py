"""Shipping countries: ISO 3166-1 alpha-2 codes in upper case, as pycountry lists them.

One rule for the API's input (fulfillment.api.serializers) and for `order_place`, so the demo,
soak and benchmark tools that place orders directly are held to it too. pycountry carries the
ISO 3166 Maintenance Agency's list (from Debian's iso-codes); a code ISO withdraws or adds
follows with the package, nothing here is hand-kept.

Lower case (`de`) is refused with the code to send instead, not upper-cased: the code is stored
as sent and printed on labels and pick lists, the schema has said `^[A-Z]{2}$` from the start,
and the API refuses loose input elsewhere too (a number where a string belongs).
"""

from functools import cache

import pycountry


class NotACountry(ValueError):
    """The value is not an upper-case ISO 3166-1 alpha-2 code; the message says what to send."""


@cache
def country_codes() -> tuple[str, ...]:
    """Every ISO 3166-1 alpha-2 code, sorted (249 in pycountry 26.2)."""
    return tuple(sorted(country.alpha_2 for country in pycountry.countries))


def country_code_check(value: object) -> str:
    """Return `value` if it is a listed upper-case alpha-2 code, else raise NotACountry."""
    if isinstance(value, str) and value in _code_set():
        return value
    if isinstance(value, str) and value.isascii() and value.upper() in _code_set():
        raise NotACountry(f"Country codes are upper case: send {value.upper()}.")
    raise NotACountry("Not an ISO 3166-1 alpha-2 country code: send two upper-case letters, e.g. DE or GB.")


@cache
def _code_set() -> frozenset[str]:
    return frozenset(country_codes())
