"""madoguchi: an accessible, multichannel service-desk assistant for a Japanese municipality."""

__version__ = "0.1.0"
