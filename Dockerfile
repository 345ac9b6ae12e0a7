# SPDX-License-Identifier: MIT
# Manifold's container image: manifoldd, the manifold client, the shipped models.
#
#   docker build -t manifold .                          # builds, runs ./test (minutes)
#   docker build -t manifold --build-arg SKIP_TESTS=1 . # quick local build, no tests
#   docker run -p 8080:8080 -e MANIFOLD_API_KEYS_TEXT="$(cat keys.txt)" manifold
#
# deploy/README.md says how the image is run with compose and Kubernetes.

# ---- stage 1: build, and run every test suite (the image is not made if one fails)
FROM debian:12 AS build
ARG SKIP_TESTS=0
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /src
# the build packages first (tools/setup-debian.sh's list), so this layer is cached
COPY tools/setup-debian.sh tools/
# libpq-dev: the PostgreSQL job store (issue 17) links libpq
RUN apt-get update -qq && tools/setup-debian.sh libpq-dev && rm -rf /var/lib/apt/lists/*
COPY . .
RUN meson setup build --buildtype=release -Dwerror=true && ninja -C build
# ./test installs its own extra packages (chromium, nginx, postgresql, ...) and builds
# the sanitizer and fuzzing variants beside build/; it exits non-zero on any failure.
RUN if [ "$SKIP_TESTS" = 1 ]; then echo "SKIP_TESTS=1: tests not run"; \
    else apt-get update -qq && ./test; fi

# ---- stage 2: the runtime
FROM debian:12-slim
ENV DEBIAN_FRONTEND=noninteractive
# Only the shared libraries of manifoldd and manifold (libcurl4: the client; libpq5:
# the PostgreSQL job store; libdnnl2 and libgomp1: bf16 layers, core/bf16_linear.c).
# No curl: the health check below needs none.
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends \
        libopenblas0 libdnnl2 libgomp1 libmicrohttpd12 libjansson4 libuv1 libsqlite3-0 libssl3 libpq5 \
        libcurl4 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 manifold \
    && useradd --system --uid 10001 --gid manifold --home-dir /var/lib/manifold \
        --shell /usr/sbin/nologin manifold \
    && mkdir -p /var/lib/manifold/models \
    && chown -R manifold:manifold /var/lib/manifold
COPY --from=build /src/build/server/manifoldd /src/build/clients/manifold /usr/local/bin/
COPY --from=build /src/models/ /usr/share/manifold/models/
COPY --from=build /src/proto/openapi.yaml /usr/share/manifold/openapi.yaml
COPY deploy/healthcheck.sh /usr/local/bin/manifold-healthcheck

# Every flag is also a MANIFOLD_<FLAG> variable; a command-line flag wins.  0.0.0.0:
# the container's network is reached only through the published port or the load
# balancer; API keys (MANIFOLD_API_KEYS_TEXT or --api-keys FILE) are needed to serve it
# (docs/security.md); the probes have their own port.
ENV MANIFOLD_LISTEN=0.0.0.0:8080 \
    MANIFOLD_HEALTH_LISTEN=0.0.0.0:8081 \
    MANIFOLD_MODELS=/usr/share/manifold/models \
    MANIFOLD_OPENAPI=/usr/share/manifold/openapi.yaml \
    MANIFOLD_MODEL_STORE=/var/lib/manifold/models \
    MANIFOLD_STORE=sqlite:/var/lib/manifold/manifold.db
USER manifold:manifold
WORKDIR /var/lib/manifold
VOLUME ["/var/lib/manifold"]
EXPOSE 8080 8081
# Liveness on the probes' port: bash's /dev/tcp, in every Debian image, speaks the few
# bytes of HTTP a probe needs (manifold health asks /readyz, which is readiness and
# would also fail while the database is down or the replica drains; curl is not here).
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["/usr/local/bin/manifold-healthcheck", "8081", "/healthz"]
# SIGTERM drains (docs/operations.md "Signals"): /readyz turns 503, running work gets
# --drain-timeout (20 s) seconds.  `docker stop` must wait longer: docker stop -t 30.
STOPSIGNAL SIGTERM
# exec form: manifoldd is PID 1 and receives the signal itself
ENTRYPOINT ["/usr/local/bin/manifoldd"]
