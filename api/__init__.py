"""The HTTP API and web pages. Nothing imports this package."""
