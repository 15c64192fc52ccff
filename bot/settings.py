"""Runtime settings, from environment variables (see the README's configuration table)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Tuple

from bot.text import DEFAULT_MAX_CHARS

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    catalog_dir: Path = PROJECT_ROOT / "intents"
    build_dir: Path = PROJECT_ROOT / "build" / "rasa"
    models_dir: Path = PROJECT_ROOT / "models"
    var_dir: Path = PROJECT_ROOT / "var"
    host: str = "127.0.0.1"
    port: int = 5005
    api_token: str = ""  # empty: Rasa's HTTP API is not mounted at all
    rest_token: str = ""  # empty: the REST channel needs no token
    allowed_origins: Tuple[str, ...] = ()  # origins that get CORS headers (never on /staff)
    max_body_bytes: int = 65536  # larger request bodies get 413
    trusted_proxies: int = 0  # reverse proxies in front (nginx: 1) whose X-Forwarded-For names the client
    database_url: str = ""
    redis_url: str = ""
    timezone: str = "Asia/Tokyo"
    max_message_chars: int = DEFAULT_MAX_CHARS
    telegram_token: str = ""  # empty: the Telegram channel is off
    telegram_secret: str = ""  # setWebhook secret_token; required when the token is set
    telegram_api_url: str = "https://api.telegram.org"
    line_channel_secret: str = ""  # the LINE channel is on only when secret and access token are set
    line_access_token: str = ""  # long-lived channel access token (Messaging API)
    line_api_url: str = "https://api.line.me"
    twilio_auth_token: str = ""  # empty: the phone channel is off; signs every Twilio webhook call
    twilio_account_sid: str = ""  # with twilio_from: the checklist by SMS (Messages API)
    twilio_from: str = ""  # the Twilio number SMS are sent from (E.164)
    twilio_api_url: str = ""  # the Twilio REST API (a local fake in tests); empty: api.twilio.com
    public_url: str = ""  # the address residents and staff use; https → Secure cookies (__Host- prefix)
    callback_ttl_seconds: int = 7 * 24 * 3600  # a call-back phone number is deleted after this at most
    kiosk: bool = False  # every page is a lobby kiosk: idle countdown, then a fresh conversation
    kiosk_idle_seconds: int = 120  # idle time before the kiosk's "続けますか？" countdown
    kiosk_countdown_seconds: int = 30  # the countdown itself (WCAG 2.2.1: at least 20 s to extend)
    max_sse_streams: int = 500  # open live streams in this process (resident pages + staff consoles)
    retention_days: int = 90  # conversations whose last event is older are deleted daily
    tts: str = "auto"  # speech engine: auto (gTTS, else Open JTalk at once) | openjtalk | gtts
    tts_rate: float = 0.58  # Open JTalk speed; 0.58 ≈ 5 morae/s with the pauses, the elderly pace
    gtts_url: str = ""  # empty: Google's endpoint; tests point gTTS at a local fake (base URL)
    gtts_timeout: float = 2.0  # seconds gTTS may take before `auto` falls back to Open JTalk
    tts_presynthesis: bool = True  # speak every catalog answer in the background at start-up
    tts_cache_days: int = 30  # audio no catalog answer uses and untouched this long is deleted (0: never)
    opendata_license: str = "CC-BY-4.0"  # licence of /opendata/* (SPDX id; bot/admin/opendata.py knows a few)
    opendata_license_url: str = ""  # needed for a licence that table does not know
    opendata_attribution: str = ""  # credit line users must give; empty: the city's name (intents/city.yml)
    graceful_shutdown_seconds: float = 15.0  # after SIGTERM, in-flight turns get this long to finish
    rate_limit_conversation: int = 30  # messages per window per conversation, every channel (0: off)
    rate_limit_address: int = 120  # POSTs per window per client address on REST/web (0: off; loopback exempt)
    rate_limit_window_seconds: int = 60  # the window of both limits
    publish_busy_share: float = 0.05  # of a core, for loading a model to publish while residents talk

    @property
    def tracker_database_url(self) -> str:
        """SQLite in var/ unless MADOGUCHI_DATABASE_URL points elsewhere (PostgreSQL)."""
        return self.database_url or f"sqlite:///{self.var_dir / 'madoguchi.db'}"

    @classmethod
    def from_env(cls) -> "Settings":
        """The settings of this process. Only the entry points (bot/cli.py, bot/server.py) call
        this; everything else is handed settings or reads `app.ctx.settings`. A variable that is
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
        )

    @property
    def behind_https(self) -> bool:
        """Served behind HTTPS (MADOGUCHI_PUBLIC_URL is https://…): cookies get `Secure` and `__Host-`."""
        return self.public_url.lower().startswith("https://")


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
