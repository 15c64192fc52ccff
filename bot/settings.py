"""Runtime settings, from environment variables (docs/configuration.md is generated from this file)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Tuple

from bot.text import DEFAULT_MAX_CHARS

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    """Every setting, its default and what it means: the `#:` comment above a field is its line in
    docs/configuration.md (`scripts/settings_doc.py` writes that file; a test keeps them equal)."""

    #: the catalog folder
    catalog_dir: Path = PROJECT_ROOT / "intents"
    #: generated Rasa files (never edited by hand)
    build_dir: Path = PROJECT_ROOT / "build" / "rasa"
    #: trained models and the model registry's files
    models_dir: Path = PROJECT_ROOT / "models"
    #: data: the SQLite database, the speech cache, cluster files
    var_dir: Path = PROJECT_ROOT / "var"
    #: where `madoguchi serve` listens
    host: str = "127.0.0.1"
    #: where `madoguchi serve` listens
    port: int = 5005
    #: default: unset (Rasa's API not mounted)
    #: token for Rasa's HTTP API (`?token=…`), as `rasa run --auth-token`; without it `/status`,
    #: `/conversations/…`, `/model…` do not exist (404), and `madoguchi serve` refuses to listen on
    #: anything but a loopback address
    api_token: str = ""
    #: default: unset (REST channel open)
    #: token the REST channel requires (`Authorization: Bearer …` or `?token=…`; 401 without)
    rest_token: str = ""
    #: default: unset (no CORS headers)
    #: comma-separated origins (e.g. `https://www.city.example.lg.jp`) that may call the channels from
    #: a browser; never with credentials, never for `/staff`. The widget needs none (it opens the
    #: chat in an iframe)
    allowed_origins: Tuple[str, ...] = ()
    #: larger request bodies get `413 body_too_large` on every route
    max_body_bytes: int = 65536
    #: reverse proxies in front of the server (nginx: `1`); only then is `X-Forwarded-For` believed,
    #: e.g. for the per-address login throttle and rate limit
    trusted_proxies: int = 0
    #: default: `sqlite:///var/madoguchi.db`
    #: SQLAlchemy URL of the tracker store and madoguchi's tables, e.g.
    #: `postgresql://user@127.0.0.1:5432/madoguchi`
    database_url: str = ""
    #: default: unset (in-process locks and events)
    #: Redis, e.g. `redis://127.0.0.1:6379/0`, for the conversation locks (madoguchi's own atomic
    #: ticket lock, `bot/store/lock_store.py`: each step one Lua script on Redis's clock; Rasa's
    #: `RedisLockStore` issues tickets read-modify-write and two replicas can both take the same
    #: one), live events across replicas, rate-limit counters and phone-call state
    redis_url: str = ""
    #: the city's time zone (counter hours, daily purge, analytics days)
    timezone: str = "Asia/Tokyo"
    #: longer messages get a clear "too long" error
    max_message_chars: int = DEFAULT_MAX_CHARS
    #: default: unset (Telegram off)
    #: bot token from @BotFather
    telegram_token: str = ""
    #: the `secret_token` given to `setWebhook`; required with a token (without it every webhook
    #: call gets 403)
    telegram_secret: str = ""
    #: Bot API base URL
    telegram_api_url: str = "https://api.telegram.org"
    #: default: unset (LINE off)
    #: channel secret of the Messaging API channel; verifies `X-Line-Signature` (bad or missing → 403)
    line_channel_secret: str = ""
    #: default: unset (LINE off)
    #: long-lived channel access token; LINE is on only when secret and token are both set
    line_access_token: str = ""
    #: Messaging API base URL
    line_api_url: str = "https://api.line.me"
    #: default: unset (phone off)
    #: the Twilio account's auth token: turns the phone channel on, verifies `X-Twilio-Signature`
    #: against `MADOGUCHI_PUBLIC_URL` + path (bad or missing → 403) and keys the hash that makes a
    #: caller's conversation id (changing it starts new conversations for every caller)
    twilio_auth_token: str = ""
    #: default: unset (no SMS)
    #: with `MADOGUCHI_TWILIO_FROM`: a caller can press 2 after an answer for the checklist of
    #: documents by SMS (Messages API)
    twilio_account_sid: str = ""
    #: default: unset (no SMS)
    #: the SMS-capable Twilio number SMS are sent from (E.164, e.g. `+8150…`)
    twilio_from: str = ""
    #: default: `https://api.twilio.com`
    #: Twilio REST API base URL (tests point it at a local fake)
    twilio_api_url: str = ""
    #: the address people use, e.g. `https://madoguchi.city.example.jp`; with `https://` cookies are
    #: `Secure` with the `__Host-` prefix (`__Host-madoguchi_staff`, `__Host-madoguchi_web`),
    #: otherwise `madoguchi_staff` on `/staff` and `madoguchi_web`. Twilio signs exactly this address
    public_url: str = ""
    #: default: `7d`
    #: longest time a call-back phone number is kept (`7d`, `36h`, `90m`, or seconds); it is also
    #: deleted as soon as the call-back ends
    callback_ttl_seconds: int = 7 * 24 * 3600
    #: every chat page is a lobby kiosk (else only `/?kiosk=1`): after the idle time a countdown
    #: 「続けますか？」, then a fresh conversation
    kiosk: bool = False
    #: kiosk idle time before the countdown
    kiosk_idle_seconds: int = 120
    #: the kiosk's countdown itself (WCAG 2.2.1: at least 20 s to extend)
    kiosk_countdown_seconds: int = 30
    #: open live streams per process (resident pages + staff consoles); past it a new stream gets
    #: `503` + `Retry-After` (a conversation's 9th tab gets `429`)
    max_sse_streams: int = 500
    #: conversations whose last message is older are deleted daily by `serve` (and by
    #: `madoguchi purge`); `0` turns the daily run off
    retention_days: int = 90
    #: speech engine: `auto` (gTTS when Google answers within the timeout, else Open JTalk at once;
    #: after a gTTS failure Open JTalk alone for 60 s), `openjtalk` (offline only), `gtts` (online only)
    tts: str = "auto"
    #: Open JTalk speed; the default is the elderly pace (≤ 5.5 morae/s, pauses at 、 and 。); `1.0`
    #: is Open JTalk's own pace (≈ 9 morae/s). Below `1.0` gTTS speaks with `slow=True`
    tts_rate: float = 0.58
    #: default: unset (Google)
    #: base URL gTTS posts to instead of `https://translate.google.com` (tests: a local server
    #: speaking the batchexecute format)
    gtts_url: str = ""
    #: seconds gTTS may take before `auto` falls back to Open JTalk
    gtts_timeout: float = 2.0
    #: speak every catalog answer (ja + やさしい日本語, phone + web) in the background at start-up and
    #: after a catalog edit; `off` speaks on demand only
    tts_presynthesis: bool = True
    #: audio files in `var/speech/` that no answer of the current catalog uses and that nobody played
    #: for this many days are deleted by the background task (at start-up, after a catalog edit,
    #: daily); a cache hit renews its file's time (at most once a day); `0` keeps everything
    tts_cache_days: int = 30
    #: SPDX id of the open-data licence (`CC0-1.0`, `CC-BY-SA-4.0`, `PDL-1.0` known)
    opendata_license: str = "CC-BY-4.0"
    #: the licence's URL, for a licence not in that list
    opendata_license_url: str = ""
    #: default: the city's name (intents/city.yml)
    #: the credit line users of the open data must give
    opendata_attribution: str = ""
    #: after SIGTERM, how long turns in flight may take to finish (behind a balancer:
    #: `/health/ready` says 503 meanwhile)
    graceful_shutdown_seconds: float = 15.0
    #: messages per window per conversation, every channel (0: off). Over it the resident gets the
    #: polite `rate_limited` phrase (intents/phrases.yml) and the message never reaches Rasa
    rate_limit_conversation: int = 30
    #: POSTs per window per client address on `/webhooks/rest/webhook` and `/webhooks/web/message`
    #: (0: off): over it, `429 {"error": "rate_limited"}` with `Retry-After`. Loopback addresses are
    #: not limited; behind nginx set `MADOGUCHI_TRUSTED_PROXIES=1` so the real address counts
    rate_limit_address: int = 120
    #: default: `60s`
    #: the window of both rate limits (`30s`, `2m`, …)
    rate_limit_window_seconds: int = 60
    #: the share of a core the loading of a model being published may take while residents are
    #: talking (full speed when nobody is); more publishes faster and slows turns more
    publish_busy_share: float = 0.05
    #: the classifier's training epochs; fewer train faster and recognise less (the accuracy
    #: figures in docs/benchmarks.md are for the default)
    train_epochs: int = 60

    @property
    def tracker_database_url(self) -> str:
        """SQLite in var/ unless MADOGUCHI_DATABASE_URL points elsewhere (PostgreSQL)."""
        return self.database_url or f"sqlite:///{self.var_dir / 'madoguchi.db'}"

    @classmethod
    def from_env(cls) -> "Settings":
        """The settings of this process. Only the entry points (bot/cli/, bot/server.py) call
        this; everything else is handed settings (the server's `Services`, bot/services.py). A variable that is
        not set keeps the field's default above (paths: under MADOGUCHI_HOME when that is set)."""
        env = os.environ
        root = Path(env.get("MADOGUCHI_HOME", PROJECT_ROOT))

        def text(name: str, default: str) -> str:
            return env.get(name, default)

        def number(name: str, default: int) -> int:
            return int(env.get(name, default))

        return cls(
            catalog_dir=Path(env.get("MADOGUCHI_CATALOG", root / "intents")),
            build_dir=Path(env.get("MADOGUCHI_BUILD", root / "build" / "rasa")),
            models_dir=Path(env.get("MADOGUCHI_MODELS", root / "models")),
            var_dir=Path(env.get("MADOGUCHI_VAR", root / "var")),
            host=text("MADOGUCHI_HOST", cls.host),
            port=number("MADOGUCHI_PORT", cls.port),
            api_token=text("MADOGUCHI_API_TOKEN", cls.api_token),
            rest_token=text("MADOGUCHI_REST_TOKEN", cls.rest_token),
            allowed_origins=origins_from(env.get("MADOGUCHI_ALLOWED_ORIGINS", "")),
            max_body_bytes=number("MADOGUCHI_MAX_BODY_BYTES", cls.max_body_bytes),
            trusted_proxies=number("MADOGUCHI_TRUSTED_PROXIES", cls.trusted_proxies),
            database_url=text("MADOGUCHI_DATABASE_URL", cls.database_url),
            redis_url=text("MADOGUCHI_REDIS_URL", cls.redis_url),
            timezone=text("MADOGUCHI_TIMEZONE", cls.timezone),
            max_message_chars=number("MADOGUCHI_MAX_MESSAGE_CHARS", cls.max_message_chars),
            telegram_token=text("MADOGUCHI_TELEGRAM_TOKEN", cls.telegram_token),
            telegram_secret=text("MADOGUCHI_TELEGRAM_SECRET", cls.telegram_secret),
            telegram_api_url=text("MADOGUCHI_TELEGRAM_API_URL", cls.telegram_api_url),
            line_channel_secret=text("MADOGUCHI_LINE_CHANNEL_SECRET", cls.line_channel_secret),
            line_access_token=text("MADOGUCHI_LINE_ACCESS_TOKEN", cls.line_access_token),
            line_api_url=text("MADOGUCHI_LINE_API_URL", cls.line_api_url),
            twilio_auth_token=text("MADOGUCHI_TWILIO_AUTH_TOKEN", cls.twilio_auth_token),
            twilio_account_sid=text("MADOGUCHI_TWILIO_ACCOUNT_SID", cls.twilio_account_sid),
            twilio_from=text("MADOGUCHI_TWILIO_FROM", cls.twilio_from),
            twilio_api_url=text("MADOGUCHI_TWILIO_API_URL", cls.twilio_api_url),
            public_url=text("MADOGUCHI_PUBLIC_URL", cls.public_url),
            callback_ttl_seconds=duration_seconds(env.get("MADOGUCHI_CALLBACK_TTL", str(cls.callback_ttl_seconds))),
            kiosk=env.get("MADOGUCHI_KIOSK", "").strip().lower() in ("1", "true", "yes", "on"),
            kiosk_idle_seconds=number("MADOGUCHI_KIOSK_IDLE_SECONDS", cls.kiosk_idle_seconds),
            kiosk_countdown_seconds=number("MADOGUCHI_KIOSK_COUNTDOWN_SECONDS", cls.kiosk_countdown_seconds),
            max_sse_streams=number("MADOGUCHI_MAX_SSE_STREAMS", cls.max_sse_streams),
            retention_days=number("MADOGUCHI_RETENTION_DAYS", cls.retention_days),
            tts=text("MADOGUCHI_TTS", cls.tts).strip().lower(),
            tts_rate=float(env.get("MADOGUCHI_TTS_RATE", cls.tts_rate)),
            gtts_url=text("MADOGUCHI_GTTS_URL", cls.gtts_url),
            gtts_timeout=float(env.get("MADOGUCHI_GTTS_TIMEOUT", cls.gtts_timeout)),
            tts_presynthesis=env.get("MADOGUCHI_TTS_PRESYNTHESIS", "on").strip().lower()
            not in ("0", "false", "no", "off"),
            tts_cache_days=number("MADOGUCHI_TTS_CACHE_DAYS", cls.tts_cache_days),
            opendata_license=text("MADOGUCHI_OPENDATA_LICENSE", cls.opendata_license).strip(),
            opendata_license_url=text("MADOGUCHI_OPENDATA_LICENSE_URL", cls.opendata_license_url).strip(),
            opendata_attribution=text("MADOGUCHI_OPENDATA_ATTRIBUTION", cls.opendata_attribution).strip(),
            graceful_shutdown_seconds=float(env.get("MADOGUCHI_GRACEFUL_SHUTDOWN_SECONDS",
                                                    cls.graceful_shutdown_seconds)),
            rate_limit_conversation=number("MADOGUCHI_RATE_LIMIT_CONVERSATION", cls.rate_limit_conversation),
            rate_limit_address=number("MADOGUCHI_RATE_LIMIT_ADDRESS", cls.rate_limit_address),
            rate_limit_window_seconds=duration_seconds(env.get("MADOGUCHI_RATE_LIMIT_WINDOW",
                                                               str(cls.rate_limit_window_seconds))),
            publish_busy_share=share(env.get("MADOGUCHI_PUBLISH_BUSY_SHARE", str(cls.publish_busy_share))),
            train_epochs=number("MADOGUCHI_TRAIN_EPOCHS", cls.train_epochs),
        )

    @property
    def behind_https(self) -> bool:
        """Served behind HTTPS (MADOGUCHI_PUBLIC_URL is https://…): cookies get `Secure` and `__Host-`."""
        return self.public_url.lower().startswith("https://")


# Variables read outside `Settings`, documented with it in docs/configuration.md.
OTHER_VARIABLES = {
    "MADOGUCHI_HOME": ("the project folder", "the folder that `intents/`, `build/rasa/`, `models/` and `var/` "
                                             "default to"),
    "MADOGUCHI_LOG_LEVEL": ("`INFO` (serve), `WARNING` (other commands)", "log level (`DEBUG` shows Rasa's traces)"),
    "MADOGUCHI_FAKE_NOW": ("unset", "tests only: the clock starts at this ISO time and runs from there"),
    "MADOGUCHI_CATALOG_CACHE": ("a private folder in the temporary directory",
                                "where loaded catalogs are kept by content (bot/catalog/cache.py); `off` parses "
                                "every time"),
    "TICKET_LOCK_LIFETIME": ("`60`", "Rasa's: seconds a conversation lock lives; if a replica dies mid-turn, "
                                     "that one conversation waits at most this long before another replica "
                                     "may answer it"),
}


DURATION_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def share(text: str) -> float:
    """A fraction above 0 and at most 1 ("0.05")."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 1:
        raise ValueError(f"not a share: {text!r} (a number above 0 and at most 1, e.g. 0.05)")
    return value


def duration_seconds(text: str) -> int:
    """`7d`, `12h`, `30m`, `45s` or a bare number of seconds, as whole seconds (at least 1)."""
    text = text.strip().lower()
    unit = DURATION_UNITS.get(text[-1:], None)
    number = text[:-1] if unit else text
    try:
        seconds = float(number) * (unit or 1)
    except ValueError:
        raise ValueError(f"not a duration: {text!r} (use e.g. 7d, 12h, 30m)") from None
    return max(1, int(seconds))


def origins_from(value: str) -> Tuple[str, ...]:
    """`https://a.example, https://b.example/` → exact origins as browsers send them (no trailing slash)."""
    return tuple(origin.strip().rstrip("/") for origin in value.split(",") if origin.strip())
