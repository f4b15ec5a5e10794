"""Report queries: SQL aggregates over the read model, for SQLite and PostgreSQL alike.

Every function takes a `scope` (a condition on cases made by services.access) and returns a
`Report` (or `CrossTab`) that the API writes as JSON or CSV, suppressed for FOI on request.
"""
