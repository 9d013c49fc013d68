# The adapter as one container: HTTP on 8000, MLLP on 2575, data (SQLite, exports) in /data.
# Two stages: the first builds the wheel and installs it with the tested versions
# (constraints.txt) into /opt/wi-adapter; the second holds that environment, the slip's font
# and nothing of the build. The base image is pinned to the Python the tests ran on.

FROM python:3.11.7-slim-bookworm AS build

WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY adapter ./adapter
COPY connectors ./connectors
COPY upload_queue ./upload_queue
RUN python -m venv /opt/wi-adapter \
    && /opt/wi-adapter/bin/pip install --no-cache-dir --upgrade pip \
    && /opt/wi-adapter/bin/pip wheel --no-cache-dir --no-deps -w /tmp/dist . \
    && /opt/wi-adapter/bin/pip install --no-cache-dir -c constraints.txt /tmp/dist/*.whl

FROM python:3.11.7-slim-bookworm

# A TrueType CJK font (WenQuanYi Zen Hei) that the PDF slip embeds; Noto CJK is CFF-based
# and cannot be subset into the PDF.
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-wqy-zenhei \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin adapter \
    && mkdir -p /data \
    && chown adapter:adapter /data

COPY --from=build /opt/wi-adapter /opt/wi-adapter
WORKDIR /app
COPY config ./config

ENV PATH=/opt/wi-adapter/bin:$PATH \
    ADAPTER_CONFIG_FILE=/app/config/adapter.toml \
    ADAPTER_DATA_DIR=/data \
    ADAPTER_DATABASE__URL=sqlite:////data/adapter.db \
    ADAPTER_HTTP__HOST=0.0.0.0 \
    ADAPTER_HTTP__PORT=8000 \
    ADAPTER_HL7__HOST=0.0.0.0 \
    ADAPTER_HL7__PORT=2575

VOLUME ["/data"]
EXPOSE 8000 2575
USER adapter

# liveness only: a missed deadline or an upstream outage is no reason to restart (/readyz and
# /healthz say more; docs/operations.md "Monitor")
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/livez', timeout=4)" || exit 1

ENTRYPOINT ["wi-adapter"]
CMD ["serve"]
