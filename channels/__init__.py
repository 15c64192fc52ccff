"""Input channels: thin adapters between a platform and the Rasa agent (no business logic here).

Every channel verifies, parses, normalizes (NFKC) and redacts, then hands a `UserMessage` to
the handoff gate; `channels/base.py` is the contract they share. The channels are listed once,
in `bot/senders.py` (`CHANNELS`). To add a channel `x`:
1. Write `channels/x.py` with `XInput(MessagingChannel[Address])` for a messaging platform
   (name, from_settings, user_of/address_of, turn_output, reply, receive; see base.py's
   docstring) or `XInput(Channel)` with its own `blueprint()` for a request/response channel.
   `XInput.name()` is `"x"`.
2. Add one line to `CHANNELS` in `bot/senders.py`: `ChannelSpec("x", "channels.x:XInput",
   lambda settings: <the settings that turn it on>, deletion=...)`. That line is the whole
   registration: conversation ids `x:<user>` become the channel's own (only `XInput` may write
   to them, every other channel refuses them with 403), the server builds and mounts it at
   `/webhooks/x/` when the settings turn it on, staff replies reach it if it has `push`
   (bot/delivery.py), a deleted conversation is counted under `x` (bot/privacy.py) and the
   admin analytics gives it a column in the list's order. `deletion` says how a resident deletes
   a conversation there (`DELETE_BY_COMMAND` for a messaging channel, whose `forward` answers
   `/delete`); `live_connection=True` if its push writes to a connection one process holds.
   What it says itself goes through `self.notify(address, "<notice>")`: the catalog's
   `notice_<notice>` phrase (intents/phrases.yml); a new notice is a new phrase there (and in
   NOTICE_PHRASES, bot/catalog/model.py), never a sentence in Python.
3. Add the settings that turn it on to `bot/settings.py` (with their docstring: the
   configuration document, docs/configuration.md, is generated from it).
4. Test it over real HTTP with a fake platform (tests/channels/fake_telegram.py shows how);
   tests/channels/test_channel_list.py shows what step 2 alone gives a throwaway channel.
"""
