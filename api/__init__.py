"""The HTTP surface: FastAPI routers that parse, authorise and delegate to `candor` services."""
