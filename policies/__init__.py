"""Case-type definitions (schema, validation, working-day calendar) and the rules and clock
of a running case (case_state, case_rules, case_clock).

Pure: no database, no network, no Temporal.
"""
