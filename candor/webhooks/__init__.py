"""Outbound webhooks to the ATS: events recorded in the transaction of the domain change
(a transactional outbox), delivered signed (Standard Webhooks), in order per application,
with retries, by the worker (docs/ats-integration.md)."""
