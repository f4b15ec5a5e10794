"""Records: SQLAlchemy models, migrations and queries. The database is the read model."""
