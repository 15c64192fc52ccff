"""Analytics for the admin console: counts only, never resident text.

Sources: Rasa's events (conversations, procedures asked, fallbacks, and what answered each typed
question: procedure, FAQ, section, person — the `source` of the bot events), `conversation_stats`
(conversations deleted since, counted when they were deleted), `handoffs` (who reached a
person, waiting times, call-backs) and `satisfaction`. A conversation belongs to the day
(in the city's time zone) of its first event; a handoff to the day it was queued.
Plots are SVG made here, each with the same numbers as a table (for screen readers and
for copying); `to_csv` exports the same numbers.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from html import escape
from typing import Any, Dict, List, Sequence, Tuple
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import select

from bot import senders
from bot.admin.missed import FALLBACK_INTENT, events_table
from bot.admin.spreadsheet import SafeCsvWriter
from bot.store import Database
from bot.store.models import ConversationStats, Handoff, SatisfactionAnswer

TOP_PROCEDURES = 10
WAIT_BUCKETS: Tuple[Tuple[str, int], ...] = (("1分未満", 60), ("1〜5分", 300), ("5〜15分", 900), ("15分以上", 10 ** 9))
PALETTE = ("#0b4f8a", "#8a4b08", "#1d6b35", "#6b2a8a", "#4a5568", "#8a1c1c")  # ≥ 4.5:1 on white


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date  # inclusive
    timezone: str

    def bounds_epoch(self) -> Tuple[float, float]:
        zone = ZoneInfo(self.timezone)
        first = dt.datetime.combine(self.start, dt.time(), zone)
        after = dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), zone)
        return first.timestamp(), after.timestamp()

    def bounds_naive_utc(self) -> Tuple[dt.datetime, dt.datetime]:
        first, after = self.bounds_epoch()
        return (dt.datetime.utcfromtimestamp(first), dt.datetime.utcfromtimestamp(after))

    def day_of_epoch(self, epoch: float) -> dt.date:
        return dt.datetime.fromtimestamp(epoch, ZoneInfo(self.timezone)).date()

    def day_of_utc(self, moment: dt.datetime) -> dt.date:
        return moment.replace(tzinfo=dt.timezone.utc).astimezone(ZoneInfo(self.timezone)).date()

    def days(self) -> List[dt.date]:
        return [self.start + dt.timedelta(days=n) for n in range((self.end - self.start).days + 1)]


def channel_of(conversation_id: str) -> str:
    return conversation_id.split(":", 1)[0] if ":" in conversation_id else "rest"


def compute(db: Database, period: Period, procedure_ids: Sequence[str]) -> Dict[str, Any]:
    """Every number of the analytics page for `period` (blocking: call in a worker thread)."""
    first_epoch, after_epoch = period.bounds_epoch()
    first_utc, after_utc = period.bounds_naive_utc()
    per_day: Dict[str, Counter] = defaultdict(Counter)
    procedures: Counter = Counter()
    sources: Counter = Counter()
    messages = fallbacks = 0
    with db.session() as session:
        events = events_table(session.connection())
        if events is not None:
            starts = session.execute(select(events.c.sender_id, sa.func.min(events.c.timestamp))
                                     .group_by(events.c.sender_id)).all()
            in_period = {sender for sender, first in starts
                         if first is not None and first_epoch <= first < after_epoch}
            for sender, first in starts:
                if sender in in_period:
                    per_day[period.day_of_epoch(first).isoformat()][channel_of(sender)] += 1
            user_rows = session.execute(select(events.c.sender_id, events.c.intent_name, events.c.data)
                                        .where(events.c.type_name == "user", events.c.timestamp >= first_epoch,
                                               events.c.timestamp < after_epoch)).all()
            asked = set()
            for sender, intent, data in user_rows:
                if intent in procedure_ids:
                    asked.add((sender, intent))
                text = (json.loads(data).get("text") or "") if data else ""
                if text.startswith("/"):
                    continue  # a button, not a question
                messages += 1
                fallbacks += intent == FALLBACK_INTENT
            procedures.update(intent for _, intent in asked)
            sources = answer_sources(session, events, first_epoch, after_epoch)
        deleted = session.scalars(select(ConversationStats).where(ConversationStats.day >= period.start,
                                                                  ConversationStats.day <= period.end)).all()
        deleted_handoffs = 0
        for row in deleted:
            per_day[row.day.isoformat()][row.channel] += row.conversations
            deleted_handoffs += row.handoffs
        handoff_rows = session.scalars(select(Handoff).where(Handoff.queued_at >= first_utc,
                                                             Handoff.queued_at < after_utc)).all()
        handoffs = [(row.reason, row.queued_at, row.assigned_at) for row in handoff_rows]
        scores = [row.score for row in session.scalars(
            select(SatisfactionAnswer).where(SatisfactionAnswer.asked_at >= first_utc,
                                             SatisfactionAnswer.asked_at < after_utc,
                                             SatisfactionAnswer.score.isnot(None)))]

    conversations = sum(sum(c.values()) for c in per_day.values())
    reached = len(handoffs) + deleted_handoffs
    waits = [(assigned - queued).total_seconds() for reason, queued, assigned in handoffs
             if assigned is not None and queued is not None and reason != "staff_pull"]
    order = senders.channel_names()  # the channels in the list's order; any other prefix after them
    channels = sorted({ch for c in per_day.values() for ch in c},
                      key=lambda ch: (order.index(ch) if ch in order else 99, ch))
    return {
        "from": period.start.isoformat(), "to": period.end.isoformat(),
        "conversations": conversations,
        "channels": channels,
        "per_day": [{"day": day.isoformat(), **{ch: per_day[day.isoformat()][ch] for ch in channels}}
                    for day in period.days()],
        "handoffs": reached,
        "handoff_rate": _ratio(reached, conversations),
        "containment": _ratio(conversations - reached, conversations) if conversations else None,
        "waiting": {"count": len(waits), "mean_seconds": round(statistics.mean(waits)) if waits else None,
                    "median_seconds": round(statistics.median(waits)) if waits else None,
                    "max_seconds": round(max(waits)) if waits else None,
                    "buckets": _buckets(waits)},
        "messages": messages, "fallbacks": fallbacks, "fallback_rate": _ratio(fallbacks, messages),
        "top_procedures": [{"procedure": pid, "conversations": n}
                           for pid, n in sorted(procedures.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_PROCEDURES]],
        "satisfaction": {"count": len(scores), "mean": round(statistics.mean(scores), 2) if scores else None,
                         "distribution": {str(score): scores.count(score) for score in range(1, 6)}},
        "callbacks": sum(1 for reason, _, _ in handoffs if reason == "callback"),
        "answer_sources": {kind: sources[kind] for kind in SOURCE_ORDER if sources[kind]},
    }


# What answered a resident's question (bot/answering), in the order the page lists them.
SOURCE_ORDER = ("procedure", "faq", "faq_choice", "route", "clarify", "handoff", "fallback", "conversation")
SOURCE_LABEL = {"procedure": "手続きの案内", "faq": "よくある質問", "faq_choice": "よくある質問（選択肢）",
                "route": "担当課の案内", "clarify": "聞き返し", "handoff": "職員へ引き継ぎ",
                "fallback": "答えられなかった", "conversation": "あいさつ・その他"}


def answer_sources(session: Any, events: sa.Table, first_epoch: float, after_epoch: float) -> Counter:
    """Per typed question (not a button), the source of the first answer that names one."""
    rows = session.execute(select(events.c.sender_id, events.c.type_name, events.c.data)
                           .where(events.c.type_name.in_(("user", "bot")), events.c.timestamp >= first_epoch,
                                  events.c.timestamp < after_epoch)
                           .order_by(events.c.sender_id, events.c.timestamp, events.c.id)).all()
    counts: Counter = Counter()
    waiting: Dict[str, bool] = {}  # sender → a typed question still waits for its sourced answer
    for sender, kind, data in rows:
        event = json.loads(data) if data else {}
        if kind == "user":
            waiting[sender] = not str(event.get("text") or "").startswith("/")
            continue
        source = (event.get("metadata") or {}).get("source")
        if not waiting.get(sender) or not isinstance(source, dict) or not source.get("source"):
            continue
        name = str(source["source"])
        if name == "conversation" and source.get("intent") in ("request_human", "complaint"):
            name = "handoff"
        counts[name if name in SOURCE_ORDER else "conversation"] += 1
        waiting[sender] = False
    return counts


def _ratio(part: int, whole: int) -> Any:
    return round(part / whole, 4) if whole else None


def _buckets(waits: List[float]) -> Dict[str, int]:
    result = {label: 0 for label, _ in WAIT_BUCKETS}
    for seconds in waits:
        label = next(label for label, limit in WAIT_BUCKETS if seconds < limit)
        result[label] += 1
    return result


def _percent(value: Any) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


# --- tables and plots ------------------------------------------------------------------
def charts(numbers: Dict[str, Any], titles: Dict[str, str]) -> List[Dict[str, Any]]:
    """Each plot as {id, title, svg, headers, rows}; `titles` names procedures for people."""
    channels = numbers["channels"]
    per_day_rows = [[row["day"]] + [row[ch] for ch in channels] + [sum(row[ch] for ch in channels)]
                    for row in numbers["per_day"]]
    rates = [["自動案内で完結（人を介さず）", _percent(numbers["containment"])],
             ["職員への引き継ぎ率", _percent(numbers["handoff_rate"])],
             ["理解できなかった質問の割合", _percent(numbers["fallback_rate"])]]
    top = [[titles.get(p["procedure"], p["procedure"]), p["conversations"]] for p in numbers["top_procedures"]]
    waits = [[label, count] for label, count in numbers["waiting"]["buckets"].items()]
    satisfaction = [[f"{score}", count] for score, count in numbers["satisfaction"]["distribution"].items()]
    sources = [[SOURCE_LABEL.get(kind, kind), count] for kind, count in (numbers.get("answer_sources") or {}).items()]
    return [
        {"id": "per-day", "title": "日別の会話数（チャネル別）", "headers": ["日付"] + channels + ["合計"],
         "rows": per_day_rows, "svg": stacked_bars(
             "per-day", "日別の会話数（チャネル別）", [r[0][5:] for r in per_day_rows],
             {ch: [r[1 + i] for r in per_day_rows] for i, ch in enumerate(channels)})},
        {"id": "rates", "title": "完結率・引き継ぎ率・フォールバック率", "headers": ["指標", "割合"], "rows": rates,
         "svg": horizontal_bars("rates", "完結率・引き継ぎ率・フォールバック率",
                                [(r[0], _value(numbers, key)) for r, key in
                                 zip(rates, ("containment", "handoff_rate", "fallback_rate"), strict=True)],
                                percent=True)},
        {"id": "top", "title": "よく聞かれた手続き（会話数）", "headers": ["手続き", "会話数"], "rows": top,
         "svg": horizontal_bars("top", "よく聞かれた手続き（会話数）", [(r[0], r[1]) for r in top])},
        {"id": "sources", "title": "質問への答えの出どころ", "headers": ["出どころ", "件数"], "rows": sources,
         "svg": horizontal_bars("sources", "質問への答えの出どころ", [(r[0], r[1]) for r in sources])},
        {"id": "waiting", "title": "職員につながるまでの待ち時間", "headers": ["待ち時間", "件数"], "rows": waits,
         "svg": horizontal_bars("waiting", "職員につながるまでの待ち時間", [(r[0], r[1]) for r in waits])},
        {"id": "satisfaction", "title": "満足度（5が最高）", "headers": ["評価", "件数"], "rows": satisfaction,
         "svg": horizontal_bars("satisfaction", "満足度（5が最高）", [(r[0], r[1]) for r in satisfaction])},
    ]


def _value(numbers: Dict[str, Any], key: str) -> float:
    return float(numbers[key] or 0)


def stacked_bars(chart_id: str, title: str, labels: List[str], series: Dict[str, List[int]]) -> str:
    width, height, left, bottom, top = 640, 240, 40, 40, 30
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    peak = max(totals + [1])
    step = (width - left - 10) / max(1, len(labels))
    bar = max(2.0, step * 0.7)
    scale = (height - bottom - top) / peak
    parts = [_svg_open(chart_id, title, width, height),
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - 5}" y2="{height - bottom}" stroke="#1a2433"/>',
             f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" font-size="12" fill="#1a2433">{peak}</text>',
             f'<text x="{left - 6}" y="{height - bottom}" text-anchor="end" font-size="12" fill="#1a2433">0</text>']
    for i, label in enumerate(labels):
        x, y = left + i * step + (step - bar) / 2, float(height - bottom)
        for n, (name, values) in enumerate(series.items()):
            h = values[i] * scale
            if h:
                y -= h
                parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                             f'fill="{PALETTE[n % len(PALETTE)]}">'
                             f'<title>{escape(label)} {escape(name)}: {values[i]}</title></rect>')
        if len(labels) <= 16 or i % max(1, len(labels) // 8) == 0:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                         f'font-size="11" fill="#1a2433">{escape(label)}</text>')
    for n, name in enumerate(series):
        parts.append(f'<rect x="{left + n * 110}" y="6" width="12" height="12" fill="{PALETTE[n % len(PALETTE)]}"/>'
                     f'<text x="{left + n * 110 + 16}" y="17" font-size="12" fill="#1a2433">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def horizontal_bars(chart_id: str, title: str, items: List[Tuple[str, float]], percent: bool = False) -> str:
    row, label_width, width = 26, 230, 640
    height = max(1, len(items)) * row + 20
    peak = 1.0 if percent else max([v for _, v in items] + [1])
    parts = [_svg_open(chart_id, title, width, height)]
    for i, (label, value) in enumerate(items):
        y = 10 + i * row
        length = (width - label_width - 70) * (value / peak if peak else 0)
        shown = f"{value * 100:.1f}%" if percent else f"{value:g}"
        parts.append(f'<text x="{label_width - 8}" y="{y + 15}" text-anchor="end" font-size="12" '
                     f'fill="#1a2433">{escape(_short(label))}</text>'
                     f'<rect x="{label_width}" y="{y + 3}" width="{length:.1f}" height="16" fill="{PALETTE[0]}"/>'
                     f'<text x="{label_width + length + 6:.1f}" y="{y + 15}" font-size="12" '
                     f'fill="#1a2433">{shown}</text>')
    if not items:
        parts.append('<text x="10" y="20" font-size="12" fill="#1a2433">データなし</text>')
    parts.append("</svg>")
    return "".join(parts)


def _short(label: str, limit: int = 18) -> str:
    return label if len(label) <= limit else label[:limit - 1] + "…"


def _svg_open(chart_id: str, title: str, width: int, height: int) -> str:
    # The table beside each plot carries the numbers; the picture is labelled, not read cell by cell.
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
            f'aria-labelledby="svg-{chart_id}-title" class="chart" focusable="false">'
            f'<title id="svg-{chart_id}-title">{escape(title)}</title>')


def to_csv(numbers: Dict[str, Any]) -> str:
    """Long format: metric, key, value (one number per row); cells a spreadsheet would run as
    formulas (an intent or channel name is not ours to trust) get a leading `'`."""
    out = io.StringIO()
    writer = SafeCsvWriter(csv.writer(out))
    writer.writerow(["metric", "key", "value"])
    for row in numbers["per_day"]:
        for channel in numbers["channels"]:
            writer.writerow(["conversations", f"{row['day']}/{channel}", row[channel]])
    for key in ("conversations", "handoffs", "handoff_rate", "containment", "messages", "fallbacks",
                "fallback_rate", "callbacks"):
        writer.writerow([key, "", "" if numbers[key] is None else numbers[key]])
    for key, value in numbers["waiting"].items():
        if key == "buckets":
            for label, count in value.items():
                writer.writerow(["waiting_bucket", label, count])
        else:
            writer.writerow([f"waiting_{key}", "", "" if value is None else value])
    for item in numbers["top_procedures"]:
        writer.writerow(["procedure_conversations", item["procedure"], item["conversations"]])
    for kind, count in (numbers.get("answer_sources") or {}).items():
        writer.writerow(["answer_source", kind, count])
    satisfaction = numbers["satisfaction"]
    writer.writerow(["satisfaction_count", "", satisfaction["count"]])
    writer.writerow(["satisfaction_mean", "", "" if satisfaction["mean"] is None else satisfaction["mean"]])
    for score, count in satisfaction["distribution"].items():
        writer.writerow(["satisfaction_score", score, count])
    return out.getvalue()
