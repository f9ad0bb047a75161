# The scalepilot controller image.
#   docker build -t scalepilot:dev .
# Built with cargo on Debian 12, run on distroless cc-debian12 (glibc and
# libgcc, no shell) as its nonroot user (uid/gid 65532), which the Helm chart
# runs with a read-only root filesystem.

FROM rust:1.95-bookworm AS builder
# cmake for rdkafka's bundled librdkafka; pkg-config and libssl-dev in case
# rdkafka's `ssl` feature is enabled (TLS, SASL_SSL, SCRAM).
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake pkg-config libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked
# The runtime image's tree: the binary, and zlib, which the binary links
# (rdkafka's `libz` feature) but distroless cc-debian12 does not ship.
RUN mkdir -p "/out/usr/lib/$(gcc -dumpmachine)" \
 && cp target/release/scalepilot /out/scalepilot \
 && cp -L "/usr/lib/$(gcc -dumpmachine)/libz.so.1" "/out/usr/lib/$(gcc -dumpmachine)/" \
 && /out/scalepilot --version

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /out/ /
USER nonroot
EXPOSE 9090
ENTRYPOINT ["/scalepilot"]
CMD ["run"]
