# One image with pdsim-simulator, pdsim-sidecar and pdsim-controller (Debian 12, non-root).
#   docker build -t ghcr.io/pdsim/pdsim:latest .
FROM debian:12 AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake pkg-config \
      libcurl4-openssl-dev libcjson-dev libyaml-dev libcivetweb-dev libssl-dev \
      libzmq3-dev libmsgpack-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
 && cmake --build /build -j"$(nproc)" \
 && cmake --install /build --prefix /opt/pdsim

FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libcurl4 libcjson1 libyaml-0-2 libcivetweb1 \
      libssl3 libzmq5 libmsgpackc2 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# bin/tlsshim/libssl.so goes with pdsim-sidecar and pdsim-simulator (see common/tls_shim.c).
COPY --from=build /opt/pdsim/bin/ /usr/local/bin/
USER 65532:65532
EXPOSE 8000 8200
CMD ["pdsim-simulator", "--help"]
