"""The admin console's JSON API under /admin/api: procedure editor, history, freshness,
missed questions, analytics. Admin role only (the staff accounts, sessions, CSRF, login
throttle and audit of bot/staff); a staff account gets 403.

The session cookie is the staff console's; over plain HTTP that cookie is scoped to /staff,
so /admin has its own login route that sets the same session's cookie for /admin (behind
HTTPS both are the one `__Host-` cookie at /). Every file, database and synthesis call
runs in a worker thread.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from asyncio import to_thread
from typing import Any, Dict, List, NamedTuple, Optional

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import clock
from bot.admin import analytics, edit_body, missed
from bot.admin.bodies import (
    MAX_EXAMPLES_PER_REQUEST,
    AdminSession,
    Analytics,
    Checked,
    Dismissed,
    ExamplesAdded,
    Freshness,
    MissedInbox,
    MissedTexts,
    MissedToExamples,
    Previewed,
    ProcedureList,
    Restore,
    Restored,
    Saved,
    Spoken,
    Version,
    Versions,
)
from bot.admin.edit_body import ProcedureEdit, ProcedureSave, ProcedureSpeech
from bot.admin.editor import (
    CatalogEditor,
    EditConflict,
    EditInvalid,
    UnknownEntry,
    procedure_path,
)
from bot.admin.faq_api import register_faq_routes
from bot.admin.history import CatalogHistory
from bot.apidoc import OBJECT, Answer, Parameter, Refusal, failure, operation
from bot.catalog.freshness import stale_procedures
from bot.catalog.model import WAYS, Catalog
from bot.errors import error_response
from bot.messages import BotMessage
from bot.replies import ReplyBuilder, to_message
from bot.services import Services, services_of
from bot.speech.answers import SPOKEN_LANGUAGES
from bot.speech.service import SpeechError
from bot.staff.api import LOGIN_ANSWERS, authenticated, log_in
from bot.staff.bodies import Done, Login
from bot.staff.context import staff_of
from bot.staff.cookies import SessionCookie
from bot.text import LANGUAGES

MAX_RANGE_DAYS = 366
BAD_EDIT = Refusal(400, "bad_request")
STALE = failure("The file changed since it was read (stale, with path): reload, then edit again")
INVALID = failure("The edit does not pass the catalog check (invalid, with problems naming the fields)")
DATE_RANGE = [Parameter("from", schema={"type": "string", "format": "date"}),
              Parameter("to", schema={"type": "string", "format": "date"})]


class Edit(NamedTuple):
    """A procedure edit as the body states it: the form, moved examples, the version it started
    from, and the form's values of the wrong type (problems in the checker's shape)."""

    data: Dict[str, Any]
    moves: List[Dict[str, str]]
    version: str
    wrong_types: List[Dict[str, Any]]


def edit_of(body: ProcedureEdit, pid: str) -> Edit:
    """The edit in the body (its shape checked by the declared body, bot/admin/edit_body.py): a value
    of the wrong type in the form → `wrong_types`, in the checker's shape (422)."""
    moves = [move.dict() for move in body.moves or []]
    return Edit(body.data, moves, body.version or "", edit_body.form_problems(body.data, f"procedures/{pid}.yml"))


class AdminContext:
    """What the admin API needs, built from the server's services the first time it is asked for."""

    def __init__(self, services: Services) -> None:
        self.db = services.database
        self.history = CatalogHistory(self.db)
        self.editor = CatalogEditor(services.settings.catalog_dir, self.history)


def admin_cookie(request: Request) -> SessionCookie:
    cookie = SessionCookie.of(request)
    return cookie if cookie.secure else dataclasses.replace(cookie, path="/admin")


def admin_of(request: Request) -> AdminContext:
    services = services_of(request.app)
    return services.part_or(AdminContext, lambda: AdminContext(services))


async def audit(request: Request, action: str, detail: Optional[Dict[str, Any]] = None) -> None:
    staff = staff_of(request.app)
    await to_thread(staff.audit.record, request.ctx.principal.username, action, None, detail)


def invalid(problems: List[Dict[str, Any]]) -> HTTPResponse:
    return error_response(422, "invalid", "The edit does not pass the catalog check.", problems=problems)


def stale_edit(path: str) -> HTTPResponse:
    return error_response(409, "stale", f"{path} changed since you opened it: reload, then make your edit again.",
                          path=path)


def bad_range() -> HTTPResponse:
    return error_response(400, "bad_range",
                          f"from/to must be dates YYYY-MM-DD, from ≤ to, at most {MAX_RANGE_DAYS} days.")


async def console_catalog(request: Request) -> Catalog:
    """The catalog as the files are now (an edit shows at once in the console), else the server's."""
    fresh = await to_thread(admin_of(request).editor.catalog)
    return fresh if fresh is not None else await services_of(request.app).catalogs.current()


def procedure_titles(catalog: Catalog) -> Dict[str, str]:
    return {pid: p.title.ja for pid, p in catalog.procedures.items()}


def admin_blueprint() -> Blueprint:
    bp = Blueprint("madoguchi_admin_api", url_prefix="/admin/api")

    # --- session ---------------------------------------------------------------------
    @bp.post("/login")
    @operation("Log in (sets the admin console's session cookie)", tags=["session"], body=Login,
               refused=Refusal(400, "invalid_login"), answers=LOGIN_ANSWERS)
    async def login(request: Request, body: Login) -> HTTPResponse:
        """The staff login (same throttle, accounts, audit), answering with a cookie for /admin."""
        return await log_in(request, body, admin_cookie(request), console="admin")

    @bp.get("/session")
    @operation("Whether this browser is logged in", tags=["session"],
               answers={200: Answer("The session", AdminSession)})
    async def session(request: Request) -> HTTPResponse:
        token = admin_cookie(request).read(request)
        p = await to_thread(staff_of(request.app).accounts.principal, token)
        if p is None:
            return response.json({"logged_in": False})
        return response.json({"logged_in": True, "csrf_token": p.csrf_token if p.is_admin else None,
                              "user": {"username": p.username, "display_name": p.display_name, "role": p.role}})

    @bp.post("/logout")
    @authenticated()
    @operation("Log out", tags=["session"], answers={200: Answer("Logged out", Done)})
    async def logout(request: Request) -> HTTPResponse:
        staff = staff_of(request.app)
        await to_thread(staff.accounts.close_session, request.ctx.session_token)
        staff.streams.close_session(request.ctx.session_token)
        await audit(request, "logout")
        reply = response.json({"ok": True})
        admin_cookie(request).delete(reply)
        return reply

    # --- procedures --------------------------------------------------------------------
    @bp.get("/procedures")
    @authenticated(role="admin")
    @operation("Every procedure with its review date", tags=["procedures"],
               answers={200: Answer("Procedures", ProcedureList)})
    async def procedures(request: Request) -> HTTPResponse:
        catalog = await console_catalog(request)
        today = clock.now().date()
        items = [{"id": p.id, "title": p.title.ja, "owner": p.owner, "section": p.section,
                  "review_by": p.review_by.isoformat(), "stale": p.review_by <= today}
                 for p in sorted(catalog.procedures.values(), key=lambda p: p.id)]
        return response.json({"procedures": items})

    @bp.get("/procedures/<pid>")
    @authenticated(role="admin")
    @operation("One procedure as the editor's form", tags=["procedures"],
               answers={200: Answer("The form", OBJECT), 404: failure("No such procedure")})
    async def read_procedure(request: Request, pid: str) -> HTTPResponse:
        editor = admin_of(request).editor
        try:
            form = await to_thread(editor.procedure_form, pid)
        except UnknownEntry:
            return error_response(404, "not_found", "No such procedure.")
        catalog = await console_catalog(request)
        form["choices"] = {
            "sections": [{"id": cid, "name": c.name.ja} for cid, c in catalog.counters.items()],
            "procedures": [{"id": k, "title": v} for k, v in sorted(procedure_titles(catalog).items())],
            "intents": sorted(catalog.intent_examples()),
            "ways": list(WAYS), "languages": list(LANGUAGES), "spoken": list(SPOKEN_LANGUAGES),
        }
        await audit(request, "catalog.read", {"procedure": pid})
        return response.json(form)

    @bp.post("/procedures/<pid>/check")
    @authenticated(role="admin")
    @operation("Validate an edit without saving", tags=["procedures"], body=ProcedureEdit,
               refused=BAD_EDIT,
               answers={200: Answer("Problems (a value of the wrong type among them, at its field) and the diff",
                                    Checked),
                        400: failure("data (the form, an object) is required (bad_request, with field)"),
                        404: failure("No such procedure or intent")})
    async def check(request: Request, pid: str, body: ProcedureEdit) -> HTTPResponse:
        """Validate without saving: the problems next to their fields and the diff to review."""
        editor = admin_of(request).editor
        data, moves, _, wrong_types = edit_of(body, pid)
        if wrong_types:
            return response.json({"problems": wrong_types, "diff": ""})
        try:
            changes = await to_thread(editor.plan_procedure, pid, data, moves)
            problems, _ = await to_thread(editor.check, changes)
            diff = await to_thread(editor.diff, changes)
        except UnknownEntry as missing:
            return error_response(404, "not_found", f"Unknown procedure or intent: {missing}")
        return response.json({"problems": problems, "diff": diff})

    @bp.post("/procedures/<pid>/preview")
    @authenticated(role="admin")
    @operation("The answers an unsaved edit would give", tags=["procedures"],
               body=ProcedureEdit, refused=BAD_EDIT,
               answers={200: Answer("Answers per language, or the problems", Previewed),
                        400: failure("data (the form, an object) is required (bad_request, with field)"),
                        404: failure("No such procedure")})
    async def preview(request: Request, pid: str, body: ProcedureEdit) -> HTTPResponse:
        """The answer the edited (unsaved) procedure would give, in each language mode."""
        editor = admin_of(request).editor
        data, _, _, wrong_types = edit_of(body, pid)
        if wrong_types:
            return response.json({"problems": wrong_types, "answers": None})
        try:
            changes = await to_thread(editor.plan_procedure, pid, data)
            problems, catalog = await to_thread(editor.check, changes)
        except UnknownEntry:
            return error_response(404, "not_found", "No such procedure.")
        if catalog is None:
            return response.json({"problems": problems, "answers": None})
        answers = await to_thread(answers_of, catalog, pid)
        return response.json({"problems": [], "answers": answers})

    @bp.post("/procedures/<pid>/speech")
    @authenticated(role="admin")
    @operation("The unsaved answer as speech", tags=["procedures"], body=ProcedureSpeech,
               refused=BAD_EDIT,
               answers={200: Answer("Audio", Spoken),
                        400: failure(f"data and a language of {', '.join(SPOKEN_LANGUAGES)} are required "
                                     f"(bad_request, with field)"),
                        404: failure("No such procedure"), 422: INVALID,
                        503: failure("No speech engine could read it (speech_unavailable)")})
    async def speech(request: Request, pid: str, body: ProcedureSpeech) -> HTTPResponse:
        """The preview's answer as speech (the same engine and cache as the phone and the web)."""
        editor = admin_of(request).editor
        data, _, _, wrong_types = edit_of(body, pid)
        language = body.language or "ja"
        if wrong_types:
            return invalid(wrong_types)
        try:
            changes = await to_thread(editor.plan_procedure, pid, data)
            problems, catalog = await to_thread(editor.check, changes)
        except UnknownEntry:
            return error_response(404, "not_found", "No such procedure.")
        if catalog is None:
            return invalid(problems)
        source = await to_thread(spoken_text, catalog, pid, language)
        try:
            audio = await services_of(request.app).speech.synthesize(source, language)
        except SpeechError as failed:
            return error_response(503, "speech_unavailable", f"No speech engine could read it: {failed}")
        return response.json({"url": services_of(request.app).speech.url_for(audio), "seconds": audio.seconds,
                              "engine": audio.engine})

    @bp.put("/procedures/<pid>")
    @authenticated(role="admin")
    @operation("Save an edit (checked, written, versioned)", tags=["procedures"],
               body=ProcedureSave, refused=BAD_EDIT,
               answers={200: Answer("Saved", Saved),
                        400: failure("data (the form) and version (from GET) are required (bad_request, with field)"),
                        404: failure("No such procedure or intent"), 409: STALE,
                        422: failure("A value of the wrong type in the form, or the edit does not pass the catalog "
                                     "check (invalid, with problems naming the fields); nothing written")})
    async def save(request: Request, pid: str, body: ProcedureSave) -> HTTPResponse:
        editor = admin_of(request).editor
        data, moves, version, wrong_types = edit_of(body, pid)
        if wrong_types:
            return invalid(wrong_types)
        author = request.ctx.principal.username
        try:
            result = await to_thread(editor.save, author, "save", lambda: editor.plan_procedure(pid, data, moves),
                                     {procedure_path(pid): version})
        except UnknownEntry as missing:
            return error_response(404, "not_found", f"Unknown procedure or intent: {missing}")
        except EditConflict as conflict:
            return stale_edit(str(conflict))
        except EditInvalid as problems:
            return invalid(problems.problems)
        await audit(request, "catalog.save", {"procedure": pid, "files": sorted(result.versions),
                                              "versions": result.history_ids,
                                              "moved": len([m for m in moves if m.get("to")])})
        return response.json({"version": result.versions[procedure_path(pid)], "saved": result.history_ids})

    @bp.get("/procedures/<pid>/history")
    @authenticated(role="admin")
    @operation("Saved versions of a procedure's file", tags=["history"],
               answers={200: Answer("Versions", Versions), 404: failure("No such procedure")})
    async def history(request: Request, pid: str) -> HTTPResponse:
        versions = await to_thread(admin_of(request).history.versions, procedure_path(pid))
        return response.json({"path": procedure_path(pid), "versions": versions})

    @bp.get("/history/<version_id:int>")
    @authenticated(role="admin")
    @operation("One saved version with its diff", tags=["history"],
               answers={200: Answer("The version", Version), 404: failure("No such version")})
    async def version(request: Request, version_id: int) -> HTTPResponse:
        admin = admin_of(request)
        found = await to_thread(admin.history.get, version_id)
        if found is None:
            return error_response(404, "not_found", "No such version.")
        try:
            found["diff"] = await to_thread(admin.editor.diff, {found["path"]: found["content"]})
        except UnknownEntry:
            found["diff"] = ""
        await audit(request, "catalog.history.read", {"path": found["path"], "version": version_id})
        return response.json(found)

    @bp.post("/history/<version_id:int>/restore")
    @authenticated(role="admin")
    @operation("Restore a saved version", tags=["history"], body=Restore, refused=Refusal(400, "bad_request"),
               answers={200: Answer("Restored", Restored),
                        400: failure("version (of the file as you see it now) is required (bad_request, with field)"),
                        404: failure("No such version"), 409: STALE, 422: INVALID})
    async def restore(request: Request, version_id: int, body: Restore) -> HTTPResponse:
        editor = admin_of(request).editor
        try:
            path, result = await to_thread(editor.restore, request.ctx.principal.username, version_id, body.version)
        except UnknownEntry:
            return error_response(404, "not_found", "No such version.")
        except EditConflict as conflict:
            return stale_edit(str(conflict))
        except EditInvalid as problems:
            return invalid(problems.problems)
        await audit(request, "catalog.restore", {"path": path, "from_version": version_id,
                                                 "versions": result.history_ids})
        return response.json({"path": path, "version": result.versions[path], "saved": result.history_ids})

    # --- freshness ---------------------------------------------------------------------
    @bp.get("/freshness")
    @authenticated(role="admin")
    @operation("Procedures past their review date, by owner", tags=["freshness"],
               answers={200: Answer("Stale procedures", Freshness)})
    async def freshness(request: Request) -> HTTPResponse:
        catalog = await console_catalog(request)
        today = clock.now().date()
        owners = [{"owner": owner, "procedures": [
            {"id": e.procedure.id, "title": e.procedure.title.ja, "review_by": e.procedure.review_by.isoformat(),
             "days_overdue": e.days_overdue, "section": e.procedure.section} for e in entries]}
            for owner, entries in stale_procedures(catalog, today)]
        return response.json({"today": today.isoformat(), "owners": owners})

    # --- missed questions --------------------------------------------------------------
    @bp.get("/missed")
    @authenticated(role="admin")
    @operation("Questions the assistant missed, grouped", tags=["missed"],
               answers={200: Answer("The inbox", MissedInbox)})
    async def missed_inbox(request: Request) -> HTTPResponse:
        catalog = await console_catalog(request)
        groups = await to_thread(missed.inbox, admin_of(request).db, catalog)
        await audit(request, "missed.read", {"groups": len(groups)})
        return response.json({"groups": groups, "intents": sorted(catalog.intent_examples()),
                              "titles": procedure_titles(catalog), "similarity": missed.SIMILARITY,
                              "sections": {cid: counter.name.ja for cid, counter in catalog.counters.items()},
                              "low_confidence": missed.LOW_CONFIDENCE})

    @bp.post("/missed/examples")
    @authenticated(role="admin")
    @operation("Missed questions become examples of an intent", tags=["missed"], body=MissedToExamples,
               refused=Refusal(400, "bad_request"),
               answers={200: Answer("Added", ExamplesAdded),
                        400: failure(f"intent and 1–{MAX_EXAMPLES_PER_REQUEST} non-blank texts are required "
                                     f"(bad_request, with field)"),
                        404: failure("No such intent"), 409: STALE, 422: INVALID})
    async def to_examples(request: Request, body: MissedToExamples) -> HTTPResponse:
        """A group's questions become examples of an intent (checked, written, versioned)."""
        editor = admin_of(request).editor
        texts, intent = [str(text) for text in body.texts], body.intent
        try:
            path, _ = await to_thread(editor.intent_file, intent)
            base = {path: body.version} if body.version else {}
            result = await to_thread(editor.save, request.ctx.principal.username, "example.add",
                                     lambda: editor.plan_examples(intent, texts), base)
        except UnknownEntry:
            return error_response(404, "not_found", "No such intent.")
        except EditConflict as conflict:
            return stale_edit(str(conflict))
        except EditInvalid as problems:
            return invalid(problems.problems)
        await audit(request, "missed.to_examples", {"intent": intent, "count": len(texts), "path": path,
                                                    "versions": result.history_ids})
        return response.json({"intent": intent, "path": path, "added": len(texts), "saved": result.history_ids})

    @bp.post("/missed/dismiss")
    @authenticated(role="admin")
    @operation("Dismiss missed questions", tags=["missed"], body=MissedTexts, refused=Refusal(400, "bad_request"),
               answers={200: Answer("Dismissed", Dismissed),
                        400: failure(f"1–{MAX_EXAMPLES_PER_REQUEST} non-blank texts are required (bad_request, "
                                     f"with field)")})
    async def dismiss(request: Request, body: MissedTexts) -> HTTPResponse:
        texts = [str(text) for text in body.texts]
        added = await to_thread(missed.dismiss, admin_of(request).db, texts, request.ctx.principal.username)
        await audit(request, "missed.dismiss", {"count": added})
        return response.json({"dismissed": added})

    # --- analytics ---------------------------------------------------------------------
    async def numbers(request: Request):
        settings = services_of(request.app).settings
        period = period_of(request.args.get("from"), request.args.get("to"), settings.timezone)
        if period is None:
            return None, None
        catalog = await console_catalog(request)
        result = await to_thread(analytics.compute, admin_of(request).db, period, list(catalog.procedures))
        return result, catalog

    @bp.get("/analytics")
    @authenticated(role="admin")
    @operation("Usage numbers for a date range (default: the last 30 days)", tags=["analytics"],
               parameters=DATE_RANGE, answers={200: Answer("Numbers and charts", Analytics),
                                               400: failure("Bad date range (bad_range)")})
    async def analytics_json(request: Request) -> HTTPResponse:
        result, catalog = await numbers(request)
        if result is None:
            return bad_range()
        result["charts"] = analytics.charts(result, procedure_titles(catalog))
        await audit(request, "analytics.read", {"from": result["from"], "to": result["to"]})
        return response.json(result)

    @bp.get("/analytics.csv")
    @authenticated(role="admin")
    @operation("The same numbers as CSV", tags=["analytics"], parameters=DATE_RANGE,
               answers={200: Answer("CSV", {"type": "string"}, content_type="text/csv"),
                        400: failure("Bad date range (bad_range)")})
    async def analytics_csv(request: Request) -> HTTPResponse:
        result, _ = await numbers(request)
        if result is None:
            return bad_range()
        await audit(request, "analytics.export", {"from": result["from"], "to": result["to"]})
        name = f"madoguchi-analytics-{result['from']}-{result['to']}.csv"
        return response.text(analytics.to_csv(result), content_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @bp.exception(UnknownEntry)
    async def unknown(_: Request, missing: UnknownEntry) -> HTTPResponse:
        return error_response(404, "not_found", f"Unknown procedure, intent or version: {missing}")

    register_faq_routes(bp)  # /faq…: the city's FAQ (bot/admin/faq_api.py)
    return bp


def period_of(start: Optional[str], end: Optional[str], timezone: str) -> Optional[analytics.Period]:
    """The date range asked for; by default the last 30 days up to today (real time: events carry it)."""
    today = analytics.Period(dt.date.today(), dt.date.today(), timezone).day_of_utc(clock.real_utcnow())
    try:
        last = dt.date.fromisoformat(end) if end else today
        first = dt.date.fromisoformat(start) if start else last - dt.timedelta(days=29)
    except ValueError:
        return None
    if first > last or (last - first).days >= MAX_RANGE_DAYS:
        return None
    return analytics.Period(first, last, timezone)


def answers_of(catalog: Catalog, pid: str) -> Dict[str, List[BotMessage]]:
    """The procedure's answer in each language mode, as the channels would send it."""
    procedure = catalog.procedures[pid]
    return {language: [to_message(reply, language) for reply in
                       ReplyBuilder(catalog, language).procedure_summary(procedure, pin_topic=False)]
            for language in LANGUAGES}


def spoken_text(catalog: Catalog, pid: str, language: str) -> str:
    """What the voice channel would read first: the answer's first message (furigana kept for the reading)."""
    replies = ReplyBuilder(catalog, language).procedure_summary(catalog.procedures[pid], pin_topic=False)
    return replies[0].text()
