"""The procedure catalog: schema, loading/validation and compilation to Rasa data."""
from bot.catalog.load import CatalogError, Problem, load_catalog
from bot.catalog.model import Catalog

__all__ = ["Catalog", "CatalogError", "Problem", "load_catalog"]
