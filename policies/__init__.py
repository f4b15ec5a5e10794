"""Case-type definitions: schema, validation, working-day calendar.

Pure: no database, no network.
"""
