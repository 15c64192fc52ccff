"""The staff console: accounts, sessions, the JSON API and the page."""
