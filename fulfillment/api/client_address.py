"""The address a request came from, as far as this deployment can trust it.

With no proxy in front (`API['NUM_PROXIES']` = 0, the default) it is the connecting address,
REMOTE_ADDR, and X-Forwarded-For is ignored: anyone can write that header. Behind N proxies
that each append the address they were connected from, the client is the N-th address from
the right of X-Forwarded-For; whatever the client itself wrote is further left and is never
read. A missing or garbled header falls back to REMOTE_ADDR.
"""

import ipaddress

from fulfillment.api import conf


def client_address(request) -> str:
    """The client's IP address: REMOTE_ADDR, or the trusted proxies' view of it."""
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = conf.get("NUM_PROXIES")
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if not proxies or not forwarded:
        return remote
    addresses = [part.strip() for part in forwarded.split(",")]
    candidate = addresses[-min(proxies, len(addresses))]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
