"""Deliver messages to a resident outside a request/response cycle.

Staff replies, queue-position updates and satisfaction questions must reach the
resident on their own channel (web live, Telegram, LINE, …). Each channel that can
push implements `PushChannel`; the server keeps one `Delivery` in its `Services`.
The phone (channels/voice.py) pushes too: to a caller on the line at their next turn, after
the call by SMS when they agreed to it; False means "kept in the transcript only".

With several replicas (bot/pubsub.py on Redis) a push that writes to an open connection (the
web page's stream: `live_connection` in bot/senders.py) must happen on the replica holding it: the
delivery is published on the bus and every replica pushes to the tabs it holds. Pushes that
are HTTP calls to a platform (Telegram, LINE, SMS) or shared state (the phone's calls) are made
once, here, on the replica that got the request.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, Iterable, Optional, Protocol, runtime_checkable

from bot import senders
from bot.messages import BotMessage
from bot.pubsub import Bus, LocalBus

logger = logging.getLogger(__name__)

TOPIC = "deliver"


@runtime_checkable
class PushChannel(Protocol):
    @classmethod
    def name(cls) -> str: ...

    async def push(self, recipient_id: str, message: BotMessage) -> bool:
        """Send one bot message (same shape as a REST reply) to the recipient; True if delivered."""


class Delivery:
    def __init__(self, channels: Iterable[Any] = (), bus: Optional[Bus] = None) -> None:
        self._channels: Dict[str, PushChannel] = {}
        for channel in channels:
            if isinstance(channel, PushChannel):
                self._channels[channel.name()] = channel
        self.bus = bus or LocalBus()
        self.bus.subscribe(TOPIC, self._deliver_here)

    def supports(self, channel_name: str) -> bool:
        return channel_name in self._channels

    async def deliver(self, channel_name: str, recipient_id: str, message: BotMessage) -> bool:
        """Push `message`; False (and logged) when the channel cannot push or delivery failed.

        The message is always in the tracker already, so a resident who reconnects
        still sees it in the restored history. Across replicas a live-connection push is
        published for the replica holding the connection; True then means "sent to every
        replica" (whether a tab is open there is not known here).
        """
        channel = self._channels.get(channel_name)
        if channel is None:
            logger.info("no push channel %r for %s: message kept in the transcript only", channel_name, recipient_id)
            return False
        if self.bus.distributed and channel_name in senders.live_connection_channels():
            self.bus.publish(TOPIC, {"channel": channel_name, "recipient": recipient_id, "message": dict(message)})
            return True
        return await self._push(channel, channel_name, recipient_id, message)

    async def _deliver_here(self, event: Dict[str, Any]) -> None:
        """A delivery published by some replica: pushed to the connections this process holds."""
        channel = self._channels.get(str(event.get("channel")))
        message = event.get("message")
        if channel is not None and isinstance(message, dict):
            await self._push(channel, str(event.get("channel")), str(event.get("recipient")), message)  # type: ignore[arg-type]

    async def _push(self, channel: PushChannel, channel_name: str, recipient_id: str, message: BotMessage) -> bool:
        try:
            return await channel.push(recipient_id, message)
        except Exception:
            logger.exception("delivery to %s/%s failed", channel_name, recipient_id)
            return False
