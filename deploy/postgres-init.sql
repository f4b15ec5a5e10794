-- Runs once, when the postgresql service initialises an empty data volume
-- (postgres runs /docker-entrypoint-initdb.d/* only then, never on later starts).
--
-- The Temporal databases (temporal, temporal_visibility) are not created here:
-- the temporal-admin-tools job creates and migrates them with temporal-sql-tool,
-- so their schema always matches the Temporal server version.
--
-- ercase gets its own database, owned by its own login role. The role is not a
-- superuser, so the application cannot read or change Temporal's databases.
-- It shares the POSTGRES_PASSWORD of the stack (docker-compose.yml passes it
-- to this container); \getenv reads it without writing it into this file.
\getenv ercase_password POSTGRES_PASSWORD
CREATE ROLE ercase LOGIN PASSWORD :'ercase_password';
-- The owner of a new database owns its public schema (PostgreSQL 15+), so
-- ercase's Alembic migrations can create their tables there.
CREATE DATABASE ercase OWNER ercase;
