"""Chat channels and the gateway between candidates and the dialogue engine.

Channels (WeChat Official Account, Telegram, e-mail, web chat) verify, de-duplicate and parse
inbound messages, bind chat identities to applications, and send outbound messages behind one
`send(message)` interface used by the outreach dispatcher. Built by the channels issue.
"""
