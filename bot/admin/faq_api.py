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
from typing import Any, Dict, Optional, Union

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import clock
from bot.admin import faq_editor, missed
from bot.admin.bodies import (
    FaqCreate,
    FaqCreated,
    FaqEntry,
    FaqList,
    FaqSave,
    FaqUpload,
    ImportPlan,
    Saved,
)
from bot.admin.editor import EditConflict, EditInvalid, UnknownEntry, _problem_json
from bot.apidoc import Answer, Refusal, failure, operation
from bot.catalog import faq_import
from bot.errors import error_response
from bot.staff.api import authenticated

BAD_UPLOAD = failure("Bad body (bad_request, with field) or a file that cannot be imported (import_refused: names "
                     "the row and column)")


def _bad_field(field: str, message: str) -> HTTPResponse:
    return error_response(400, "bad_request", f"{field}: {message}", field=field)


def _upload(body: FaqUpload) -> Union[HTTPResponse, Dict[str, Any]]:
    """The import's arguments from the (validated) body, or a refusal naming the field."""
    try:
        data = base64.b64decode(body.content_base64, validate=True)
    except (binascii.Error, ValueError):
        return _bad_field("content_base64", "is not valid base64")
    mapping = {key: value.strip() for key, value in (body.mapping or {}).items() if value.strip()}
    for key in mapping:
        if key not in faq_import.FIELDS:
            return _bad_field(f"mapping.{key}", f"unknown field (use {', '.join(faq_import.FIELDS)})")
    options: Dict[str, Optional[str]] = {key: value.strip() if value and value.strip() else None
                                         for key, value in (("category", body.category), ("section", body.section))}
    return {"data": data, "name": str(body.filename), "mapping": mapping, **options}


def _plan_json(plan: faq_import.FaqImportPlan) -> Dict[str, Any]:
    return {"source": plan.source, "counts": plan.counts(), "new_categories": plan.new_categories,
            "changes": [{"id": c.entry_id, "category": c.category, "kind": c.kind, "row": c.where,
                         "question": (c.incoming.get("question") or {}).get("ja", ""),
                         "fields": [{"field": f, "before": before, "after": after} for f, before, after in c.fields]}
                        for c in plan.changes],
            "files": sorted(plan.files), "problems": [_problem_json(p) for p in plan.problems],
            "summary": plan.describe()}


def register_faq_routes(bp: Blueprint) -> None:
    from bot.admin.api import STALE, admin_of, audit, console_catalog, invalid, stale_edit

    @bp.get("/faq")
    @authenticated(role="admin")
    @operation("The FAQ by category, with freshness (entries not updated for a year are flagged)", tags=["faq"],
               answers={200: Answer("Categories and entries", FaqList)})
    async def faq_list(request: Request) -> HTTPResponse:
        catalog = await console_catalog(request)
        return response.json(await to_thread(faq_editor.listing, catalog, clock.now().date()))

    @bp.get("/faq/<entry_id>")
    @authenticated(role="admin")
    @operation("One FAQ entry as the editor's form", tags=["faq"],
               answers={200: Answer("The form and the file's version", FaqEntry), 404: failure("No such FAQ entry")})
    async def faq_entry(request: Request, entry_id: str) -> HTTPResponse:
        catalog = await console_catalog(request)
        entry = catalog.faq.get(entry_id)
        if entry is None:
            return error_response(404, "not_found", "No such FAQ entry.")
        try:
            form = await to_thread(faq_editor.entry_form, admin_of(request).editor, entry)
        except UnknownEntry:
            return error_response(404, "not_found", "No such FAQ entry.")
        await audit(request, "faq.read", {"entry": entry_id})
        return response.json(form)

    @bp.put("/faq/<entry_id>")
    @authenticated(role="admin")
    @operation("Save an FAQ entry (checked, written, versioned, audited)", tags=["faq"],
               body=FaqSave, refused=Refusal(400, "bad_request"),
               answers={200: Answer("Saved", Saved),
                        400: failure("version (from GET) is required (bad_request, with field)"),
                        404: failure("No such FAQ entry"), 409: STALE,
                        422: failure("A value of the wrong type, or the edit does not pass the catalog check "
                                     "(invalid, with problems naming the field)")})
    async def faq_save(request: Request, entry_id: str, body: FaqSave) -> HTTPResponse:
        try:
            form = faq_editor.check_form(body.data)
        except faq_editor.FormError as wrong:  # a value of the wrong type: 422 in the checker's shape
            return invalid([{"file": "", "line": 0, "field": wrong.field, "message": wrong.message}])
        editor = admin_of(request).editor
        try:
            path, result = await to_thread(faq_editor.save_entry, editor, request.ctx.principal.username,
                                           entry_id, form, body.version)
        except UnknownEntry:
            return error_response(404, "not_found", "No such FAQ entry.")
        except EditConflict as conflict:
            return stale_edit(str(conflict))
        except EditInvalid as problems:
            return invalid(problems.problems)
        await audit(request, "faq.save", {"entry": entry_id, "file": path, "versions": result.history_ids})
        return response.json({"version": result.versions[path], "saved": result.history_ids})

    @bp.post("/faq")
    @authenticated(role="admin")
    @operation("Create an FAQ entry in a category (checked, written, versioned, audited); the missed questions it "
               "answers leave the inbox", tags=["faq"], body=FaqCreate,
               refused=Refusal(422, "invalid", problems=True),
               answers={201: Answer("Created", FaqCreated),
                        422: failure("A value of the wrong type (category, id, data…, missed), an id already taken, "
                                     "or the entry does not pass the catalog check (invalid, with problems naming "
                                     "the field)")})
    async def faq_create(request: Request, body: FaqCreate) -> HTTPResponse:
        """A new entry in a category; `missed`: the inbox questions it answers, which leave the
        inbox (a missed question becomes an FAQ entry in one step)."""
        missed_texts = [str(text) for text in body.missed]
        editor = admin_of(request).editor
        try:
            form = faq_editor.check_form(body.data)
            path, result = await to_thread(faq_editor.create_entry, editor, request.ctx.principal.username,
                                           body.category, body.id, form)
        except faq_editor.FormError as wrong:
            return invalid([{"file": "", "line": 0, "field": wrong.field, "message": wrong.message}])
        except EditInvalid as problems:
            return invalid(problems.problems)
        dismissed = 0
        if missed_texts:
            dismissed = await to_thread(missed.dismiss, admin_of(request).db, missed_texts,
                                        request.ctx.principal.username)
        await audit(request, "faq.create", {"entry": body.id, "file": path, "versions": result.history_ids,
                                            "from_missed": dismissed})
        return response.json({"id": body.id, "path": path, "version": result.versions[path],
                              "saved": result.history_ids, "missed_resolved": dismissed}, status=201)

    @bp.post("/faq/import/preview")
    @authenticated(role="admin")
    @operation("What an FAQ export (CSV/JSON + column mapping) would change; nothing written", tags=["faq"],
               body=FaqUpload, refused=Refusal(400, "bad_request"),
               answers={200: Answer("The plan: new/changed/unchanged entries per file and the catalog's problems "
                                    "after it", ImportPlan),
                        400: BAD_UPLOAD})
    async def faq_import_preview(request: Request, body: FaqUpload) -> HTTPResponse:
        """What the upload would change, file by file, and every problem; nothing written."""
        upload = _upload(body)
        if isinstance(upload, HTTPResponse):
            return upload
        try:
            plan = await to_thread(faq_editor.plan_import, admin_of(request).editor, upload["data"], upload["name"],
                                   upload["mapping"], upload["category"], upload["section"])
        except faq_import.FaqImportError as refused:
            return error_response(400, "import_refused", str(refused))
        return response.json(_plan_json(plan))

    @bp.post("/faq/import")
    @authenticated(role="admin")
    @operation("Import an FAQ export: planned again, checked, written, versioned, audited", tags=["faq"],
               body=FaqUpload, refused=Refusal(400, "bad_request"),
               answers={200: Answer("Written", ImportPlan), 400: BAD_UPLOAD,
                        422: failure("The merged catalog would not validate (invalid, with problems); nothing "
                                     "written")})
    async def faq_import_apply(request: Request, body: FaqUpload) -> HTTPResponse:
        upload = _upload(body)
        if isinstance(upload, HTTPResponse):
            return upload
        try:
            plan, saved = await to_thread(faq_editor.apply_import, admin_of(request).editor,
                                          request.ctx.principal.username, upload["data"], upload["name"],
                                          upload["mapping"], upload["category"], upload["section"])
        except faq_import.FaqImportError as refused:
            return error_response(400, "import_refused", str(refused))
        except EditInvalid as problems:
            return invalid(problems.problems)
        await audit(request, "faq.import", {"file": upload["name"], **plan.counts(), "files": sorted(plan.files),
                                            "versions": saved})
        return response.json({**_plan_json(plan), "saved": saved})
