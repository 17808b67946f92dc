"""Returns: the second process on the engine. A completed order's units come back: approved,
labelled, received, inspected, refunded, restocked, confirmed (see docs/returns.md).

- `workflow`: the recipe on one screen; `steps`: each step with its rules.
- `requests`: requesting and cancelling a return, with every check on the request.
- `effects`: what the steps record; `parcels`: the parcel arriving; `inspection`: the
  warehouse's inspection task; `mail`: the emails to the customer.
"""
