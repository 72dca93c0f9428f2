FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 WIREWATCH_CONFIG=/config
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY crawler ./crawler
COPY alerts ./alerts
COPY scheduler ./scheduler
COPY config ./config
RUN pip install --no-cache-dir . && useradd --system --home /data wirewatch \
    && mkdir -p /data && chown wirewatch /data
COPY config /config
USER wirewatch
VOLUME ["/data"]
ENTRYPOINT ["wirewatch"]
CMD ["run"]
