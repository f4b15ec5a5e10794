"""Alembic environment: runs the migrations on the connection records/migrate.py locked."""

from alembic import context
from sqlalchemy import Connection, create_engine, pool

from records.models import Base


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations() -> None:
    # records/migrate.py hands over its connection, which holds the migration lock.
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    # Alembic's own command line (e.g. `alembic downgrade` by hand): the caller serialises.
    url = context.config.get_main_option("sqlalchemy.url")
    assert url
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as own:
        run_on(own)
    engine.dispose()


run_migrations()
