# syntax=docker/dockerfile:1
# ezra's image: the released linux binary (glibc) on debian:12-slim, run as uid 10001 with its
# one database file in the /data volume. Build it after `npm run release` has filled dist/:
#   docker buildx build --platform linux/amd64,linux/arm64 -t ezra .
# scripts/container-check.ts mirrors these steps without Docker; test/packaging.test.ts keeps
# the two in step (paths, user, volume, environment, healthcheck). See docs/deploy.md.

# Docker names the architecture amd64 where the release names it x64: one stage per
# architecture maps one to the other, and only the target's stage is built.
ARG TARGETARCH

FROM scratch AS binary-amd64
COPY dist/ezra-linux-x64 /ezra

FROM scratch AS binary-arm64
COPY dist/ezra-linux-arm64 /ezra

FROM binary-${TARGETARCH} AS binary

# Not distroless or alpine: Bun's binary needs glibc (ldd: libc, libpthread, libdl, libm), and
# the healthcheck needs bash's /dev/tcp, since the image has no redis-cli.
FROM debian:12-slim
RUN groupadd --system --gid 10001 ezra \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin ezra \
 && mkdir /data \
 && chown 10001:10001 /data \
 && chmod 0700 /data
COPY --from=binary --chmod=0755 /ezra /usr/local/bin/ezra
COPY --chmod=0755 packaging/healthcheck.sh /usr/local/bin/ezra-healthcheck

# A published port needs 0.0.0.0, and ezra refuses a public address without a password: the
# container exits 2 until EZRA_PASSWORD (or, behind a private network, EZRA_ALLOW_PUBLIC=1) is set.
ENV EZRA_DATA_DIR=/data \
    EZRA_HOST=0.0.0.0 \
    EZRA_PORT=42002

USER 10001:10001
VOLUME /data
EXPOSE 42002
# ezra, as PID 1, handles SIGTERM itself: it closes the listener and the database and exits 0.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 CMD ["/usr/local/bin/ezra-healthcheck"]
ENTRYPOINT ["/usr/local/bin/ezra"]
