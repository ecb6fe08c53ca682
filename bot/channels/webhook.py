"""Deliver by POSTing JSON to an HTTP endpoint: a company's own gateway, or a test double.

The request carries the delivery's idempotency key as `Idempotency-Key`, so a receiver can
drop the one duplicate the outbox allows (a crash after the POST, before the state is saved).
"""

from __future__ import annotations

import httpx

from candor.delivery.ports import Delivery, Permanent, RetryAfter, SendResult, Sent
from candor.models.enums import Channel

DEFAULT_RETRY_S = 5.0


class WebhookChannel:
    def __init__(
        self, channel: Channel, url: str, *, client: httpx.AsyncClient | None = None
    ) -> None:
        self.channel = channel
        self.url = url
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=3.0))

    async def send(self, delivery: Delivery) -> SendResult:
        payload = {
            "channel": delivery.channel.value,
            "recipient": delivery.recipient,
            "subject": delivery.subject,
            "body": delivery.body,
            "locale": delivery.locale,
            "wechat_data": delivery.wechat_data,
            "wechat_template_id": delivery.wechat_template_id,
            "sms_template_code": delivery.sms_template_code,
            "sms_params": delivery.sms_params,
        }
        try:
            response = await self._client.post(
                self.url, json=payload, headers={"Idempotency-Key": delivery.idempotency_key}
            )
        except httpx.TimeoutException:
            return RetryAfter(DEFAULT_RETRY_S, "timeout")
        except httpx.TransportError as exc:
            return RetryAfter(DEFAULT_RETRY_S, f"transport: {type(exc).__name__}")
        if response.status_code == 429 or response.status_code >= 500:
            return RetryAfter(_retry_after(response), f"http {response.status_code}")
        if response.status_code >= 400:
            return Permanent(f"http {response.status_code}: {response.text[:200]}")
        provider_id = None
        if response.headers.get("content-type", "").startswith("application/json"):
            body = response.json()
            provider_id = str(body["id"]) if isinstance(body, dict) and "id" in body else None
        return Sent(provider_id)

    async def aclose(self) -> None:
        await self._client.aclose()


def _retry_after(response: httpx.Response) -> float:
    header = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(header))
    except ValueError:
        return DEFAULT_RETRY_S
