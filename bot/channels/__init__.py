"""Outbound channels behind one interface: `send(delivery) -> Sent | RetryAfter | Permanent`."""
