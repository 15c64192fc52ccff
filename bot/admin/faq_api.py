"""The admin API's FAQ routes (/admin/api/faq…): list with freshness, read and save one entry,
preview and apply an import. Registered on the admin blueprint by bot/admin/api.py, with its
session, role, CSRF and audit rules; every file call runs in a worker thread.

An upload travels as JSON (`content_base64`: the file's bytes, so a Shift_JIS CSV arrives
as the city wrote it) and is bounded by the server's body cap (MADOGUCHI_MAX_BODY_BYTES);
larger exports go through `madoguchi faq import`.
"""
from __future__ import annotations

import base64
import binascii
from asyncio import to_thread
from typing import Any, Dict, Optional, Tuple

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import clock
from bot.admin import faq_editor, missed
from bot.admin.editor import EditConflict, EditInvalid, UnknownEntry, _problem_json
from bot.catalog import faq_import
from bot.staff.api import authenticated, body_of, error


def _bad_field(field: str, message: str) -> HTTPResponse:
    return response.json({"error": "bad_request", "message": f"{field}: {message}", "field": field}, status=400)


def _upload(request: Request) -> Tuple[Optional[HTTPResponse], Dict[str, Any]]:
    """(an error response, or None) and the import's arguments from the body."""
    body = body_of(request)
    name = body.get("filename")
    content = body.get("content_base64")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        return _bad_field("filename", "the file's name (up to 200 characters) is required"), {}
    if not isinstance(content, str) or not content:
        return _bad_field("content_base64", "the file's content, base64-encoded, is required"), {}
    try:
        data = base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        return _bad_field("content_base64", "is not valid base64"), {}
    mapping = body.get("mapping") or {}
    if not isinstance(mapping, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
        return _bad_field("mapping", "must be an object of field → column name (strings)"), {}
    mapping = {key: value.strip() for key, value in mapping.items() if value.strip()}
    for key in mapping:
        if key not in faq_import.FIELDS:
            return _bad_field(f"mapping.{key}", f"unknown field (use {', '.join(faq_import.FIELDS)})"), {}
    options: Dict[str, Optional[str]] = {}
    for key in ("category", "section"):
        value = body.get(key)
        if value not in (None, "") and not isinstance(value, str):
            return _bad_field(key, "must be a string"), {}
        options[key] = value.strip() if isinstance(value, str) and value.strip() else None
    return None, {"data": data, "name": name.strip(), "mapping": mapping, **options}


def _plan_json(plan: faq_import.FaqImportPlan) -> Dict[str, Any]:
    return {"source": plan.source, "counts": plan.counts(), "new_categories": plan.new_categories,
            "changes": [{"id": c.entry_id, "category": c.category, "kind": c.kind, "row": c.where,
                         "question": (c.incoming.get("question") or {}).get("ja", ""),
                         "fields": [{"field": f, "before": before, "after": after} for f, before, after in c.fields]}
                        for c in plan.changes],
            "files": sorted(plan.files), "problems": [_problem_json(p) for p in plan.problems],
            "summary": plan.describe()}


def register_faq_routes(bp: Blueprint) -> None:
    from bot.admin.api import MAX_EXAMPLES_PER_REQUEST, admin_of, audit, console_catalog, invalid, stale_edit

    @bp.get("/faq")
    @authenticated(role="admin")
    async def faq_list(request: Request) -> HTTPResponse:
        catalog = await console_catalog(request)
        return response.json(await to_thread(faq_editor.listing, catalog, clock.now().date()))

    @bp.get("/faq/<entry_id>")
    @authenticated(role="admin")
    async def faq_entry(request: Request, entry_id: str) -> HTTPResponse:
        catalog = await console_catalog(request)
        entry = catalog.faq.get(entry_id)
        if entry is None:
            return error(404, "not_found", "No such FAQ entry.")
        try:
            form = await to_thread(faq_editor.entry_form, admin_of(request).editor, entry)
        except UnknownEntry:
            return error(404, "not_found", "No such FAQ entry.")
        await audit(request, "faq.read", {"entry": entry_id})
        return response.json(form)

    @bp.put("/faq/<entry_id>")
    @authenticated(role="admin")
    async def faq_save(request: Request, entry_id: str) -> HTTPResponse:
        body = body_of(request)
        version = body.get("version")
        if not isinstance(version, str) or not version:
            return _bad_field("version", "the version from GET is required")
        try:
            form = faq_editor.check_form(body.get("data"))
        except faq_editor.FormError as wrong:  # a value of the wrong type: 422 in the checker's shape
            return invalid([{"file": "", "line": 0, "field": wrong.field, "message": wrong.message}])
        editor = admin_of(request).editor
        try:
            path, result = await to_thread(faq_editor.save_entry, editor, request.ctx.principal.username,
                                           entry_id, form, version)
        except UnknownEntry:
            return error(404, "not_found", "No such FAQ entry.")
        except EditConflict as conflict:
            return stale_edit(str(conflict))
        except EditInvalid as problems:
            return invalid(problems.problems)
        await audit(request, "faq.save", {"entry": entry_id, "file": path, "versions": result.history_ids})
        return response.json({"version": result.versions[path], "saved": result.history_ids})

    @bp.post("/faq")
    @authenticated(role="admin")
    async def faq_create(request: Request) -> HTTPResponse:
        """A new entry in a category; `missed`: the inbox questions it answers, which leave the
        inbox (a missed question becomes an FAQ entry in one step)."""
        body = body_of(request)
        missed_texts = body.get("missed", [])
        if not isinstance(missed_texts, list) or len(missed_texts) > MAX_EXAMPLES_PER_REQUEST or not all(
                isinstance(text, str) and text.strip() for text in missed_texts):
            return invalid([{"file": "", "line": 0, "field": "missed",
                             "message": f"must be a list of up to {MAX_EXAMPLES_PER_REQUEST} non-empty texts"}])
        editor = admin_of(request).editor
        try:
            form = faq_editor.check_form(body.get("data"))
            path, result = await to_thread(faq_editor.create_entry, editor, request.ctx.principal.username,
                                           body.get("category"), body.get("id"), form)
        except faq_editor.FormError as wrong:
            return invalid([{"file": "", "line": 0, "field": wrong.field, "message": wrong.message}])
        except EditInvalid as problems:
            return invalid(problems.problems)
        entry_id = body["id"]
        dismissed = 0
        if missed_texts:
            dismissed = await to_thread(missed.dismiss, admin_of(request).db, [t.strip() for t in missed_texts],
                                        request.ctx.principal.username)
        await audit(request, "faq.create", {"entry": entry_id, "file": path, "versions": result.history_ids,
                                            "from_missed": dismissed})
        return response.json({"id": entry_id, "path": path, "version": result.versions[path],
                              "saved": result.history_ids, "missed_resolved": dismissed}, status=201)

    @bp.post("/faq/import/preview")
    @authenticated(role="admin")
    async def faq_import_preview(request: Request) -> HTTPResponse:
        """What the upload would change, file by file, and every problem; nothing written."""
        failure, upload = _upload(request)
        if failure is not None:
            return failure
        try:
            plan = await to_thread(faq_editor.plan_import, admin_of(request).editor, upload["data"], upload["name"],
                                   upload["mapping"], upload["category"], upload["section"])
        except faq_import.FaqImportError as refused:
            return error(400, "import_refused", str(refused))
        return response.json(_plan_json(plan))

    @bp.post("/faq/import")
    @authenticated(role="admin")
    async def faq_import_apply(request: Request) -> HTTPResponse:
        failure, upload = _upload(request)
        if failure is not None:
            return failure
        try:
            plan, saved = await to_thread(faq_editor.apply_import, admin_of(request).editor,
                                          request.ctx.principal.username, upload["data"], upload["name"],
                                          upload["mapping"], upload["category"], upload["section"])
        except faq_import.FaqImportError as refused:
            return error(400, "import_refused", str(refused))
        except EditInvalid as problems:
            return invalid(problems.problems)
        await audit(request, "faq.import", {"file": upload["name"], **plan.counts(), "files": sorted(plan.files),
                                            "versions": saved})
        return response.json({**_plan_json(plan), "saved": saved})
