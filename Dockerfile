# dns-eds container image. Build: docker build -t dns-eds .
# Run:   docker run -v "$PWD/dns-eds.yaml:/etc/dns-eds/config.yaml:ro" -p 18000:18000 dns-eds
#
# Stage 1 builds the npm package exactly as it is published (npm ci with the build tools, the protos
# generated, tsc, npm pack); stage 2 installs that package with production dependencies only, then
# removes npm, so the runtime image has no compiler, no build tools and no package manager.

# Node 26 is the Active LTS line (LTS since 2026-10-28, end of life 2029-04-30).
ARG NODE_IMAGE=node:26-trixie-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY . .
# `prepare` builds (buf + protoc-gen-es + tsc) during npm ci; pack then takes dist/ as it is.
RUN npm ci --no-audit --no-fund \
 && mkdir /pkg \
 && npm pack --ignore-scripts --pack-destination /pkg

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
COPY --from=build /pkg/ /tmp/pkg/
RUN npm install --global --omit=dev --no-audit --no-fund /tmp/pkg/dns-eds-*.tgz \
 && rm -rf /tmp/pkg /root/.npm \
 && rm -rf /usr/local/lib/node_modules/npm /usr/local/bin/npm /usr/local/bin/npx /usr/local/lib/node_modules/corepack /usr/local/bin/corepack \
 && mkdir -p /etc/dns-eds \
 && dns-eds --version
# The `node` user (uid 1000) of the official image: nothing runs as root.
USER node
# xDS (gRPC) and admin (HTTP: /healthz /readyz /metrics). Bind admin to 0.0.0.0 in the config for probes.
EXPOSE 18000 19000
# SIGTERM drains (see docs/operations.md); give the container drainDelay + drainWindow + grace to stop.
STOPSIGNAL SIGTERM
ENTRYPOINT ["dns-eds"]
CMD ["serve", "--config", "/etc/dns-eds/config.yaml"]
