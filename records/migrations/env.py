"""Alembic environment: runs the migrations on one connection, serialised on PostgreSQL."""

from alembic import context
from sqlalchemy import create_engine, pool, text

from records.models import Base

# An arbitrary constant: API and worker starting together must not migrate at once.
MIGRATION_LOCK_ID = 72_061_544


def run_migrations() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    assert url
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        is_postgres = connection.dialect.name == "postgresql"
        if is_postgres:
            connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
            connection.commit()
        try:
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                render_as_batch=connection.dialect.name == "sqlite",
            )
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if is_postgres:
                connection.execute(
                    text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID}
                )
                connection.commit()
    engine.dispose()


run_migrations()
