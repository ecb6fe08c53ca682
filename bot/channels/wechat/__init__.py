"""The WeChat Official Account channel: the callback (verify, decrypt, de-duplicate, reply)
and the outbound sender (customer-service, template and one-time subscription messages)."""
