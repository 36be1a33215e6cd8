# The Journeys image: one image, three commands (ENTRYPOINT is `journeys`):
#   journeys up       the default: embedded Temporal server + worker + API (a trial, one box)
#   journeys worker   the worker alone, against TEMPORAL_ADDRESS (compose, Helm)
#   journeys api      the HTTP API alone (compose, Helm)
# Every setting comes from the environment (README "Settings (environment)"); no secret is
# baked in. Build from the repository root: docker build -t journeys .
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md worker.py ./
COPY journeys ./journeys
COPY workflows ./workflows
COPY activities ./activities
# The same path in both stages: a venv's scripts name their interpreter by absolute path.
RUN python -m venv /opt/journeys && /opt/journeys/bin/pip install ".[postgresql]"

FROM python:3.11-slim
# A fixed numeric uid, so Kubernetes' runAsNonRoot can check it without a user database.
RUN useradd --system --uid 10001 --user-group --home-dir /app --create-home journeys
# Owned by the user: the worker writes the workflow modules' bytecode at start (worker.py
# precompile) and would otherwise recompile them for every journey's sandbox.
COPY --from=build --chown=10001:10001 /opt/journeys /opt/journeys
WORKDIR /app
# The shipped scenarios and templates; mount your own over these folders (or point
# JOURNEYS_SCENARIOS_DIR / JOURNEYS_TEMPLATES_DIR / JOURNEYS_LOYALTY_FILE elsewhere).
COPY --chown=10001:10001 scenarios ./scenarios
COPY --chown=10001:10001 templates ./templates
COPY --chown=10001:10001 loyalty.yaml ./
ENV PATH=/opt/journeys/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    JOURNEYS_DATA_DIR=/app/data \
    JOURNEYS_API_HOST=0.0.0.0 \
    JOURNEYS_LOG_FORMAT=json
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["journeys"]
CMD ["up"]
