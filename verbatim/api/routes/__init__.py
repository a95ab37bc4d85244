"""The HTTP routes, one module per area; each route validates, calls a service function, shapes the answer."""
