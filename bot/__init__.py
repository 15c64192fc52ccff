"""madoguchi: an accessible, multichannel service-desk assistant for a Japanese municipality.

The packages form layers; a module imports only from its own layer or the layers below,
and no two packages import each other (tests/test_import_layers.py checks both). Lowest first:

1. `settings`, `senders` (the one list of channels: namespaces, mounting, deletion), `clock`,
   `text`, `speech_text` (fillers, self-corrections), `redaction`, `messages` (the bot message's
   shape), `errors` (the one error shape of every JSON route), `apidoc` (each route's declared body and
   responses: validated, and generated into the OpenAPI documents) and the small HTTP helpers
   (`access`, `cors`, `sse`, `delivery`, `logmask`, `pubsub` (live events between processes),
   `ratelimit`): no knowledge of procedures or conversations.
2. `catalog` (what intents/ means) and `opening_hours` (when a counter is open).
3. `nlu` (the Rasa components), `replies` (what the assistant says, from the catalog),
   `speech` (how it sounds: reading for the ear, TTS engines, audio cache) and `answering`
   (where an answer comes from: procedure, FAQ, section directory, a person).
4. `store` (SQLAlchemy models and the tracker store).
5. `handoff` (the state machine, the gate in front of Rasa, slips).
6. `services` (the one typed, frozen `Services` of a server process, built in `server`).
7. `actions` (the dialogue action), `staff` (the staff console), `admin` (the admin console: model
   registry and lifecycle, open data), `privacy` (deletion, retention).
8. `channels` (one module per platform).
9. `server`, `health` (probes), `cli`, `training`: they assemble everything.
"""

__version__ = "0.1.0"

# The layers above as data, lowest first: the import test reads this table.
LAYERS = (
    ("settings", "senders", "clock", "text", "speech_text", "redaction", "messages", "errors", "apidoc", "access",
     "cors", "sse", "delivery", "pubsub", "logmask", "ratelimit", "background"),
    ("catalog", "opening_hours"),
    ("nlu", "replies", "speech", "answering"),
    ("store",),
    ("handoff",),
    ("services",),
    ("actions", "staff", "admin", "privacy"),
    ("channels",),
    ("server", "health", "cli", "training"),
)
