"""Deliver messages to a resident outside a request/response cycle.

Staff replies, queue-position updates and satisfaction questions must reach the
resident on their own channel (web live, Telegram, LINE, …). Each channel that can
push implements `PushChannel`; the server keeps one `Delivery` in `app.ctx.delivery`.
The phone (channels/voice.py) pushes too: to a caller on the line at their next turn, after
the call by SMS when they agreed to it; False means "kept in the transcript only".
"""
from __future__ import annotations

import logging
from typing import Any, Dict, Iterable, Protocol, runtime_checkable

from bot.messages import BotMessage

logger = logging.getLogger(__name__)


@runtime_checkable
class PushChannel(Protocol):
    @classmethod
    def name(cls) -> str: ...

    async def push(self, recipient_id: str, message: BotMessage) -> bool:
        """Send one bot message (same shape as a REST reply) to the recipient; True if delivered."""


class Delivery:
    def __init__(self, channels: Iterable[Any] = ()) -> None:
        self._channels: Dict[str, PushChannel] = {}
        for channel in channels:
            if isinstance(channel, PushChannel):
                self._channels[channel.name()] = channel

    def supports(self, channel_name: str) -> bool:
        return channel_name in self._channels

    async def deliver(self, channel_name: str, recipient_id: str, message: BotMessage) -> bool:
        """Push `message`; False (and logged) when the channel cannot push or delivery failed.

        The message is always in the tracker already, so a resident who reconnects
        still sees it in the restored history.
        """
        channel = self._channels.get(channel_name)
        if channel is None:
            logger.info("no push channel %r for %s: message kept in the transcript only", channel_name, recipient_id)
            return False
        try:
            return await channel.push(recipient_id, message)
        except Exception:
            logger.exception("delivery to %s/%s failed", channel_name, recipient_id)
            return False
