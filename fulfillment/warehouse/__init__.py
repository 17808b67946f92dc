"""The warehouse pages: a worker's phone interface to pick tasks (picking itself: fulfillment.picking)
and to returns, scanned in and inspected (fulfillment.returns)."""
