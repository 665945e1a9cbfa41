# The ContactPoint application image: the web app (gunicorn), the migration and the indexer followers all run
# from it with different commands (docker-compose.yml). Build it after `./scripts/build-frontend`, which puts
# GOV.UK Frontend's assets in webapp/static/govuk (package data, copied in with the source).
# BASE_IMAGE is the official image; the smoke test (scripts/compose-smoke) swaps in a Debian bookworm image made
# with debootstrap, since no registry is reachable there. Both carry Python 3.11 as `python3`.
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/contactpoint/bin:$PATH \
    CONTACTPOINT_STATE_DIR=/var/lib/contactpoint CONTACTPOINT_CACHE_DIR=/var/cache/contactpoint

WORKDIR /app
COPY . /app
RUN test -f webapp/static/govuk/.built \
        || { echo "webapp/static/govuk is missing: run ./scripts/build-frontend before building the image" >&2; exit 1; } \
    && python3 -m venv /opt/contactpoint \
    && /opt/contactpoint/bin/pip install --upgrade pip setuptools wheel \
    && /opt/contactpoint/bin/pip install /app \
    && rm -rf /app/build /app/*.egg-info \
    && useradd --system --uid 10001 --home-dir /var/lib/contactpoint --shell /usr/sbin/nologin contactpoint \
    && mkdir -p /var/lib/contactpoint /var/cache/contactpoint \
    && chown contactpoint:contactpoint /var/lib/contactpoint /var/cache/contactpoint

# Never root: a flaw in the web app must not own the container.
USER contactpoint
EXPOSE 8000
# gunicorn.conf.py (workers, timeouts) is read from /app, the working directory.
CMD ["gunicorn", "-c", "gunicorn.conf.py", "--bind", "0.0.0.0:8000", "webapp:create_app()"]
