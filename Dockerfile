# mockprovider: a mock GP Connect provider (FHIR STU3).
# Configure it only with MOCKPROVIDER_* environment variables (README "Configuration"), e.g.
#   docker run -p 8080:8080 -e MOCKPROVIDER_CONTROL_TOKEN=s3cret mockprovider
# Checked without a Docker engine by `make docker-check` (README "Docker").
FROM python:3.11-slim

# The package index pip installs from; the public default unless the build is given another
# (`--build-arg PIP_INDEX_URL=...`, e.g. a company mirror).
ARG PIP_INDEX_URL=https://pypi.org/simple

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MOCKPROVIDER_HOST=0.0.0.0 \
    MOCKPROVIDER_PORT=8080 \
    MOCKPROVIDER_WORKERS=2 \
    MOCKPROVIDER_PERSONAS=/app/personas

# The server runs as an unprivileged user that owns nothing in the image (code and personas are
# root's and read-only to it); the control state goes to a private folder under /tmp.
RUN groupadd --system --gid 10001 mockprovider \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin mockprovider

# Install the package from its sources (a regular, non-editable install into site-packages),
# then drop the sources: only the installed package and the personas stay in /app's place.
COPY setup.cfg pyproject.toml README.md /tmp/src/
COPY mockprovider /tmp/src/mockprovider
RUN pip install --no-cache-dir /tmp/src \
    && rm -rf /tmp/src

WORKDIR /app
COPY personas ./personas

USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/_control/health' % os.environ.get('MOCKPROVIDER_PORT', '8080'), timeout=2)"]
CMD ["mockprovider", "serve"]
