# mockprovider: a mock GP Connect provider. Configure only with MOCKPROVIDER_* environment variables.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    MOCKPROVIDER_HOST=0.0.0.0 \
    MOCKPROVIDER_PORT=8080 \
    MOCKPROVIDER_PERSONAS=/app/personas

WORKDIR /app
COPY setup.cfg pyproject.toml README.md ./
COPY mockprovider ./mockprovider
COPY personas ./personas
RUN pip install --no-cache-dir . \
    && useradd --system --uid 10001 --no-create-home mockprovider

USER 10001
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os,urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/_control/health' % os.environ.get('MOCKPROVIDER_PORT', '8080'), timeout=2)"]
CMD ["mockprovider", "serve"]
