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
    public_url: str = ""  # the address residents and staff use; https → Secure cookies (__Host- prefix)
    callback_ttl_seconds: int = 7 * 24 * 3600  # a call-back phone number is deleted after this at most
    kiosk: bool = False  # every page is a lobby kiosk: idle countdown, then a fresh conversation
    kiosk_idle_seconds: int = 120  # idle time before the kiosk's "続けますか？" countdown
    kiosk_countdown_seconds: int = 30  # the countdown itself (WCAG 2.2.1: at least 20 s to extend)
    max_sse_streams: int = 500  # open live streams in this process (resident pages + staff consoles)
    retention_days: int = 90  # conversations whose last event is older are deleted daily

    @property
    def tracker_database_url(self) -> str:
        """SQLite in var/ unless MADOGUCHI_DATABASE_URL points elsewhere (PostgreSQL)."""
        return self.database_url or f"sqlite:///{self.var_dir / 'madoguchi.db'}"

    @classmethod
    def from_env(cls) -> "Settings":
        env = os.environ
        root = Path(env.get("MADOGUCHI_HOME", PROJECT_ROOT))
        return cls(
            catalog_dir=Path(env.get("MADOGUCHI_CATALOG", root / "intents")),
            build_dir=Path(env.get("MADOGUCHI_BUILD", root / "build" / "rasa")),
            models_dir=Path(env.get("MADOGUCHI_MODELS", root / "models")),
            var_dir=Path(env.get("MADOGUCHI_VAR", root / "var")),
            host=env.get("MADOGUCHI_HOST", "127.0.0.1"),
            port=int(env.get("MADOGUCHI_PORT", "5005")),
            api_token=env.get("MADOGUCHI_API_TOKEN", ""),
            rest_token=env.get("MADOGUCHI_REST_TOKEN", ""),
            allowed_origins=origins_from(env.get("MADOGUCHI_ALLOWED_ORIGINS", "")),
            max_body_bytes=int(env.get("MADOGUCHI_MAX_BODY_BYTES", "65536")),
            database_url=env.get("MADOGUCHI_DATABASE_URL", ""),
            redis_url=env.get("MADOGUCHI_REDIS_URL", ""),
            timezone=env.get("MADOGUCHI_TIMEZONE", "Asia/Tokyo"),
            max_message_chars=int(env.get("MADOGUCHI_MAX_MESSAGE_CHARS", "2000")),
            telegram_token=env.get("MADOGUCHI_TELEGRAM_TOKEN", ""),
            telegram_secret=env.get("MADOGUCHI_TELEGRAM_SECRET", ""),
            telegram_api_url=env.get("MADOGUCHI_TELEGRAM_API_URL", "https://api.telegram.org"),
            line_channel_secret=env.get("MADOGUCHI_LINE_CHANNEL_SECRET", ""),
            line_access_token=env.get("MADOGUCHI_LINE_ACCESS_TOKEN", ""),
            line_api_url=env.get("MADOGUCHI_LINE_API_URL", "https://api.line.me"),
            public_url=env.get("MADOGUCHI_PUBLIC_URL", ""),
            callback_ttl_seconds=duration_seconds(env.get("MADOGUCHI_CALLBACK_TTL", "7d")),
            kiosk=env.get("MADOGUCHI_KIOSK", "").strip().lower() in ("1", "true", "yes", "on"),
            kiosk_idle_seconds=int(env.get("MADOGUCHI_KIOSK_IDLE_SECONDS", "120")),
            kiosk_countdown_seconds=int(env.get("MADOGUCHI_KIOSK_COUNTDOWN_SECONDS", "30")),
            max_sse_streams=int(env.get("MADOGUCHI_MAX_SSE_STREAMS", "500")),
            retention_days=int(env.get("MADOGUCHI_RETENTION_DAYS", "90")),
        )

    @property
    def behind_https(self) -> bool:
        """Served behind HTTPS (MADOGUCHI_PUBLIC_URL is https://…): cookies get `Secure` and `__Host-`."""
        return self.public_url.lower().startswith("https://")


DURATION_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


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
