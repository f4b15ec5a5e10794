"""Report queries: SQL aggregates over the read model, for SQLite and PostgreSQL alike.

Every function takes a `scope` (a condition on cases made by services.access; the reports on
stays also take the same limit on stays, so they need not read the cases) and returns a
`Report` (or `CrossTab`) that the API writes as JSON or CSV, suppressed for FOI on request.

At scale (PostgreSQL, a million cases) the reports read covering indexes (migration 0009): an
organisation's cases are spread over the whole table, so reading table pages costs one page
per case. Percentiles stay exact: every value of the window is sorted, in memory.
"""
