"""The chat side's domain: transcripts, identity binding, preferences and opt-out.

See docs/channels.md. Channel adapters live in `bot/`; they hand `bot.gateway.InboundMessage`
objects to `bot.conversation.ConversationGateway`, which calls `candor.chat.service`.
"""
