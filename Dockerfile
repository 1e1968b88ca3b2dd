# syntax=docker/dockerfile:1
# Build: docker build -t tasklogs .
# Run:   docker run -e TASKLOGS_DATABASE_URL=postgresql+asyncpg://... -e TASKLOGS_JWT_SECRET=... -p 8000:8000 tasklogs
#        (migrations: the same image with the command `migrate`)

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# Dependencies first (pinned by constraints.txt), so code changes reuse this layer.
COPY pyproject.toml constraints.txt README.md ./
RUN mkdir -p app migrations && touch app/__init__.py migrations/__init__.py \
 && pip install -c constraints.txt . && pip uninstall -y tasklogs
COPY app ./app
COPY migrations ./migrations
COPY alembic.ini ./
RUN pip install --no-deps -c constraints.txt .

FROM python:3.11-slim AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TASKLOGS_HOST=0.0.0.0 \
    TASKLOGS_PORT=8000 \
    TASKLOGS_LOG_FORMAT=json
# A numeric user, so Kubernetes can check `runAsNonRoot` without reading /etc/passwd.
RUN groupadd --system --gid 10001 tasklogs \
 && useradd --system --uid 10001 --gid 10001 --home-dir /srv tasklogs \
 && mkdir -p /srv/data && chown 10001:10001 /srv/data
COPY --from=build /opt/venv /opt/venv
WORKDIR /srv/data
USER 10001:10001
EXPOSE 8000
# Liveness on the port the service was configured with (TASKLOGS_PORT), not a fixed 8000.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('TASKLOGS_PORT', '8000'); sys.exit(urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=2).status != 200)"]
ENTRYPOINT ["tasklogs"]
CMD ["serve"]
