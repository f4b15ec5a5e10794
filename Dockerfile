# syntax=docker/dockerfile:1
#
# One image for both ercase processes: the default command serves the API;
# docker-compose.yml runs the Temporal worker from the same image with
# `ercase worker`, so both always carry the same workflow code and codec.
#
# Build: docker build -t ercase:0.1.0 .   (docker compose build does this)

# Pinned to a patch release so a rebuild does not silently change Python.
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

# --- build: install ercase and its dependencies into a virtualenv ----------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/ercase
WORKDIR /src
# The dependencies first, exactly as requirements.lock names them, each checked against its
# hash: a rebuild never picks up a new temporalio, holidays or tzdata by itself. This layer
# is rebuilt only when the lock changes.
COPY requirements.lock .
RUN /opt/ercase/bin/pip install --require-hashes -r requirements.lock
# .dockerignore keeps .venv, var/, .git, caches and test output out of this copy.
COPY . .
RUN /opt/ercase/bin/pip install --no-deps .

# --- runtime: the virtualenv only, no sources, no build leftovers ----------
FROM ${PYTHON_IMAGE}
ENV PATH=/opt/ercase/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

# A fixed, numeric non-root uid: orchestrators that enforce runAsNonRoot can
# verify it, and volume ownership stays stable across rebuilds.
# /app is the working directory (settings resolve var/ against it);
# /data/documents and /data/shred-ledger are where compose mounts the case-documents
# and shred-ledger volumes. Creating them here, owned by ercase, makes a fresh named
# volume inherit that owner.
# WeasyPrint renders letters to PDF through Pango (and needs a font): the slim image has
# neither. Debian's packages, installed once and their lists removed.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 \
        fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 ercase \
    && useradd --system --uid 10001 --gid ercase --home-dir /app --shell /usr/sbin/nologin ercase \
    && mkdir -p /app/var /data/documents /data/shred-ledger \
    && chown -R ercase:ercase /app /data

COPY --from=build /opt/ercase /opt/ercase

WORKDIR /app
USER 10001:10001
EXPOSE 8000

# Exec form (no shell in between), so `docker stop`'s SIGTERM reaches ercase
# itself; compose adds `init: true` so the signal is handled even where the
# process installs no handler of its own.
CMD ["ercase", "api", "--host", "0.0.0.0", "--port", "8000"]
