"""The web chat channel (`/webhooks/web/`): the page residents and kiosk tablets use.

The page (plain HTML/CSS/JS from `bot/web/`, no build step) posts each message here and
keeps one Server-Sent Events stream open per tab, so a counter clerk's reply appears
without a reload. The tracker is the single source of truth: every message the page
shows carries its tracker timestamp as id and cursor, so restoring after a reload,
catching up after a reconnect (`Last-Event-ID`) and pushing staff replies are the same
operation, and the page can drop duplicates by id.

Kiosk mode (`?kiosk=1`, or MADOGUCHI_KIOSK=true for every page) is for the tablets in the
city-hall lobby: after MADOGUCHI_KIOSK_IDLE_SECONDS without input the page shows a
countdown (「続けますか？」, WCAG 2.2.1) and then starts a new conversation, so the next
resident never sees the previous one.

One module per concern:
  channel.py     WebInput: the routes, and delivery outside a request (staff replies)
  identity.py    whose conversation a request is (cookie, embedded token, stream tickets)
  transcript.py  the page's messages, built from the tracker
  furigana.py    readings for standard Japanese replies (the page's furigana toggle)
  streams.py     the open tabs' live streams (bot/sse.py) and the per-conversation cap
  info.py        `GET /info`: counter, hours and phone in three languages; kiosk settings
  page.py        the chat page and its security headers, also at `/`
  speech.py      「読み上げ」: the server's audio of a bot message of the caller's own conversation
"""
from channels.web.channel import WebInput, WebPushOutputChannel
from channels.web.furigana import auto_ruby
from channels.web.identity import CONVERSATION_HEADER, COOKIE_NAME, SECURE_COOKIE_NAME, Visitor, conversation_id_for
from channels.web.page import root_page_blueprint
from channels.web.streams import MAX_PAGES_PER_CONVERSATION, PageStream
from channels.web.transcript import shape_message, transcript

__all__ = ["COOKIE_NAME", "CONVERSATION_HEADER", "MAX_PAGES_PER_CONVERSATION", "SECURE_COOKIE_NAME", "PageStream",
           "Visitor", "WebInput", "WebPushOutputChannel", "auto_ruby", "conversation_id_for", "root_page_blueprint",
           "shape_message", "transcript"]
