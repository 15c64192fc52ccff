"""The administrator console (/admin): procedure editor, history, freshness, missed questions,
analytics, and the model lifecycle's page (its API: bot/admin/models*.py)."""
from __future__ import annotations

from typing import List


def admin_blueprints() -> List:
    """The console's page and JSON API, for bot/server.py to register."""
    from bot.admin.api import admin_blueprint
    from bot.admin.openapi import admin_openapi_blueprint
    from bot.admin.page import admin_page_blueprint

    return [admin_blueprint(), admin_openapi_blueprint(), admin_page_blueprint()]
