"""Input channels: thin adapters between a platform and the Rasa agent (no business logic here).

Every channel verifies, parses, normalizes (NFKC) and redacts, then hands a `UserMessage` to
the handoff gate; `channels/base.py` is the contract they share. To add a channel `x`:
1. Write `channels/x.py` with `XInput(MessagingChannel[Address])` for a messaging platform
   (name, from_settings, user_of/address_of, turn_output, reply, receive; see base.py's
   docstring) or `XInput(Channel)` with its own `blueprint()` for a request/response channel.
2. Add `x` to `CHANNEL_NAMESPACES` in `channels/inbound.py` if it is new: its conversation
   ids are `x:<user>`, and only `XInput` may write to them.
3. Add one line to `CHANNELS` in `bot/server.py`: `ChannelSpec("x", "channels.x:XInput",
   lambda settings: <the settings that turn it on>)`, and those settings to bot/settings.py.
4. Test it over real HTTP with a fake platform (tests/channels/fake_telegram.py shows how).
"""
