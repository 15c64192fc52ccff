"""The procedure catalog: schema, loading/validation and compilation to Rasa data."""
from bot.catalog.cache import load_catalog
from bot.catalog.load import CatalogError, Problem
from bot.catalog.model import Catalog

__all__ = ["Catalog", "CatalogError", "Problem", "load_catalog"]
