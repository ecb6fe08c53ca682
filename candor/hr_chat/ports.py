"""The port each HR chat platform implements to show approval cards (bot/channels/wecom.py,
bot/channels/telegram_hr.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from candor.delivery.ports import SendResult
from candor.models.enums import HrChatPlatform


@dataclass(frozen=True, slots=True)
class Card:
    token: str  # what the buttons carry back (WeCom task_id; Telegram callback data)
    title: str
    description: str  # a preview excerpt of the draft
    fields: tuple[tuple[str, str], ...]  # (label, value): job, due date in China time
    url: str  # the console page, for the "open" button
    open_label: str
    buttons: tuple[tuple[str, str], ...]  # (action, label); none once decided
    status: str | None = None  # the decision, once there is one ("Approved by Li Na")


class CardSender(Protocol):
    platform: HrChatPlatform

    async def send_card(self, to: str, card: Card) -> SendResult:
        """Send a new card; `Sent.provider_message_id` is the handle for updating it."""
        ...

    async def update_card(self, to: str, ref: str, card: Card) -> SendResult:
        """Show `card` (now decided) in place of the card sent as `ref`."""
        ...

    async def aclose(self) -> None: ...
