# The one image of every Countersign process (the Helm chart and deploy/compose.yaml
# run it with `worker`, `intake`, `sink`, `api`, `mailer` or `migrate`). Not built on
# the development machines (no Docker engine there): `docker build -t countersign .`
# The dashboard's bundle: npm packages from package-lock.json only.
FROM node:22-bookworm-slim AS dashboard
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY streams/web/frontend streams/web/frontend
COPY streams/regions/five_regions.csv streams/regions/five_regions.csv
RUN npm run build

FROM python:3.11-slim-bookworm
# Noto fonts: every script of the delivery PDF (countersign export).
RUN apt-get update && apt-get install -y --no-install-recommends \
      fonts-noto-core fonts-noto-cjk fonts-noto-extra \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY schemas schemas
COPY sinks sinks
COPY streams streams
COPY --from=dashboard /src/streams/web/static/dist streams/web/static/dist
RUN pip install --no-cache-dir -c constraints.txt . \
    && useradd --uid 10001 --no-create-home countersign \
    && mkdir /data && chown countersign /data
USER 10001
ENV COUNTERSIGN_DATA_DIR=/data COUNTERSIGN_BIND_HOST=0.0.0.0
VOLUME /data
ENTRYPOINT ["countersign"]
CMD ["--help"]
