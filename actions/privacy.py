"""The candidate's rights over their data in chat: a copy of it (PIPL Art. 45)."""

from __future__ import annotations

from datetime import timedelta

from actions.base import CandorAction, Context, Events
from candor.privacy import service
from candor.privacy.service import MAX_EXPORTS_PER_DAY, TooManyExportsError


class ActionRequestDataExport(CandorAction):
    """A single-use, expiring download link to a JSON copy of everything Candor holds about
    the bound candidate. The unbound are refused by `CandorAction` (told how to bind)."""

    def name(self) -> str:
        return "action_request_data_export"

    async def act(self, context: Context) -> Events:
        hours = context.settings.data_export_link_hours
        try:
            issued = await service.create_link(
                context.session,
                context.candidate,
                via=f"chat:{context.party.identity.channel.value}",
                valid_for=timedelta(hours=hours),
                now=context.now,
            )
        except TooManyExportsError:
            context.say("data_export_limit", count=MAX_EXPORTS_PER_DAY)
            return []
        context.say("data_export_ready", hours=hours, url=issued.url(context.settings.public_url))
        return []
