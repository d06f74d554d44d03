# SPDX-License-Identifier: Apache-2.0 OR MIT
# RateWatch on Debian 12: built from source with Debian's packages, run as a non-root user.
#
#   docker build -t ratewatch .
#   docker run -p 8081:8081 -e API_KEY_SECRET=... -e REDIS_URL=redis://redis:6379 ratewatch
#
# The image runs in production mode and binds 0.0.0.0; it needs API_KEY_SECRET (at least 32
# bytes) and, to share counters between instances, REDIS_URL. See docs/DEPLOYMENT.md.

# ---- build stage -----------------------------------------------------------------------
FROM debian:bookworm-slim AS build

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        cmake gcc libc6-dev make pkg-config \
        libh2o-evloop-dev libjansson-dev libssl-dev libhiredis-dev librust-blake3-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY CMakeLists.txt ./
COPY src ./src
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release \
 && cmake --build build -j "$(nproc)" --target ratewatch \
 && strip build/ratewatch \
 && build/ratewatch --version

# ---- runtime stage ---------------------------------------------------------------------
FROM debian:bookworm-slim

# Only the shared libraries the binary links (ldd build/ratewatch); libh2o brings zlib and wslay.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libh2o-evloop0.13 libjansson4 libssl3 libhiredis0.14 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && groupadd --system --gid 10001 ratewatch \
 && useradd --system --uid 10001 --gid ratewatch --home-dir /var/lib/ratewatch --no-create-home \
        --shell /usr/sbin/nologin ratewatch \
 && install -d -o ratewatch -g ratewatch -m 0750 /var/lib/ratewatch

COPY --from=build /src/build/ratewatch /usr/local/bin/ratewatch
COPY deploy/healthcheck.sh /usr/local/bin/ratewatch-healthcheck

# Production mode; RATEWATCH_BIND stays unset, so the server binds 0.0.0.0.
# API_KEY_SECRET and REDIS_URL come from the environment at run time (never bake a secret in).
ENV RATEWATCH_ENV=production \
    PORT=8081 \
    RATEWATCH_DATA_DIR=/var/lib/ratewatch \
    RATEWATCH_LOG_FORMAT=json

USER ratewatch:ratewatch
WORKDIR /var/lib/ratewatch
EXPOSE 8081

# No curl in the image: bash's /dev/tcp asks GET /health and wants a 200.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/ratewatch-healthcheck"]

# RateWatch finishes requests in flight on SIGTERM within RATEWATCH_SHUTDOWN_TIMEOUT_S (10 s
# by default); give `docker stop` a longer grace (docker stop -t 15, compose stop_grace_period).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/ratewatch"]
