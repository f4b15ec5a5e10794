"""Side effects of the case workflows: recording to the database, sending mail."""
