"""The one list of channels: who may write to which conversations, and how each channel is run.

A conversation id carries its channel's namespace (`web:…`, `telegram:…`, …) and only that
channel may write to it (channels/inbound.py). The server mounts the channels of this list
(bot/server.py), privacy names the channel of a deleted conversation from it (bot/privacy.py),
delivery knows which pushes write to a connection one process holds (bot/delivery.py) and the
admin analytics lists the channels in its order (bot/admin/analytics.py). Adding a channel is
one line in `CHANNELS` (the recipe is in channels/__init__.py).

This module sits at the bottom layer: it names a channel's class as text (`module:Class`) and
imports it only when the server builds the channel, so anything may read the list.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable, Optional, Tuple

from bot.settings import Settings

# How a resident deletes their conversation on a channel (bot/privacy.py does the deleting).
DELETE_BY_BUTTON = "button"    # the page's 「この会話を消す」 (POST /webhooks/web/delete)
DELETE_BY_COMMAND = "command"  # a typed command (`/delete`, 「会話を消す」), answered by MessagingChannel
DELETE_NOT_OFFERED = ""        # the channel has no way (the retention purge still deletes)


def always(_settings: Settings) -> bool:
    return True


@dataclass(frozen=True)
class ChannelSpec:
    """One channel: its name (the namespace of its conversation ids, its mount point
    `/webhooks/<name>/`, its column in the analytics), its class as `module:Class` (built with
    `Class.from_settings` only when the settings turn it on) and what the rest must know of it."""

    name: str
    factory: str
    enabled: Callable[[Settings], bool] = always
    deletion: str = DELETE_NOT_OFFERED
    # Its pushes write to a connection one process holds (the web page's stream): across
    # replicas they are published on the bus for the replica holding it (bot/delivery.py).
    live_connection: bool = False
    # Conversation ids from before namespaces that still belong to this channel (`web-<hex>`).
    legacy_prefixes: Tuple[str, ...] = ()

    @property
    def prefix(self) -> str:
        """`<name>:`, the start of every conversation id the channel owns."""
        return f"{self.name}:"

    def build(self, settings: Settings) -> Any:
        module, _, class_name = self.factory.partition(":")
        return getattr(importlib.import_module(module), class_name).from_settings(settings)


# Every channel, in the order the server mounts them and the analytics lists them.
CHANNELS: Tuple[ChannelSpec, ...] = (
    ChannelSpec("web", "channels.web:WebInput", deletion=DELETE_BY_BUTTON, live_connection=True,
                legacy_prefixes=("web-",)),
    ChannelSpec("line", "channels.line:LineInput",  # LINE needs both the secret and the access token
                lambda settings: bool(settings.line_channel_secret and settings.line_access_token),
                deletion=DELETE_BY_COMMAND),
    ChannelSpec("telegram", "channels.telegram:TelegramInput",  # on when a bot token is configured
                lambda settings: bool(settings.telegram_token), deletion=DELETE_BY_COMMAND),
    ChannelSpec("voice", "channels.voice:VoiceInput",  # the phone: on when Twilio's auth token is set
                lambda settings: bool(settings.twilio_auth_token)),
    ChannelSpec("rest", "channels.rest:MadoguchiRestInput"),
)


def channel_names() -> Tuple[str, ...]:
    """The namespaces, in the list's order (read at call time: a test may add a channel)."""
    return tuple(spec.name for spec in CHANNELS)


def spec_of(name: str) -> Optional[ChannelSpec]:
    return next((spec for spec in CHANNELS if spec.name == name), None)


def owner_of(conversation_id: str) -> Optional[str]:
    """The channel whose namespace `conversation_id` is in, exactly as written (None for a bare id).

    Legacy ids (`web-<hex>`) belong to the channel that declares their prefix. Case-insensitive
    matching, for refusing a forged sender, is channels/inbound.py's `namespace_of`.
    """
    for spec in CHANNELS:
        if conversation_id.startswith(spec.prefix):
            return spec.name
    return next((spec.name for spec in CHANNELS
                 if any(conversation_id.startswith(prefix) for prefix in spec.legacy_prefixes)), None)


def live_connection_channels() -> frozenset:
    return frozenset(spec.name for spec in CHANNELS if spec.live_connection)
