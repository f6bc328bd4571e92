# syntax=docker/dockerfile:1
#
# talos-alert-sidecar image: multi-stage, production dependencies only, non-root, multi-arch.
#
# Base: Node.js 26 on Debian 13 "trixie" (slim). Node 26 is the Active LTS line as of
# 2026-11: Node 24 moved to Maintenance LTS on 2026-10-20 and Node 26 took over as
# Active LTS in late October 2026 (nodejs/Release schedule); trixie is Debian stable,
# bookworm is oldstable. `--build-arg NODE_VERSION=24` builds on the previous LTS line;
# pin a digest in your own builds for reproducibility.
ARG NODE_VERSION=26

# ---- build: all dependencies, compile TypeScript, then the target's production dependencies ----
# Runs on the builder's own platform: the output is plain JavaScript and no dependency runs
# an install script, so multi-arch builds need no emulation for npm and tsc. The one native
# module (snappy, for Loki pushes) ships prebuilt per platform as optional dependencies:
# the production install selects the target's (glibc, like this base image); if none
# loads, the pusher falls back to the JavaScript snappy (same bytes, slower).
FROM --platform=$BUILDPLATFORM node:${NODE_VERSION}-trixie-slim AS build
ARG TARGETARCH
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build \
 && rm -rf node_modules \
 && npm ci --omit=dev --no-audit --no-fund --os=linux --libc=glibc --cpu="$(if [ "$TARGETARCH" = arm64 ]; then echo arm64; else echo x64; fi)" \
 && npm cache clean --force

# ---- runtime: compiled JavaScript and production node_modules, nothing else ----
FROM node:${NODE_VERSION}-trixie-slim AS runtime
# Set by the release workflow from the git tag and commit.
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="talos-alert-sidecar" \
      org.opencontainers.image.description="Runs the Loki ruler's LogQL alert rules on the Talos log stream and alerts Alertmanager within milliseconds, forwarding every line to Loki." \
      org.opencontainers.image.source="https://github.com/talos-alert-sidecar/talos-alert-sidecar" \
      org.opencontainers.image.url="https://github.com/talos-alert-sidecar/talos-alert-sidecar" \
      org.opencontainers.image.documentation="https://github.com/talos-alert-sidecar/talos-alert-sidecar/blob/main/README.md" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production
WORKDIR /app
# npm/npx/corepack are only needed to build; without them the image is smaller and has less to patch.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
           /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack
# Files stay root-owned and read-only to the runtime user (the chart also mounts / read-only).
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY rules ./rules
# A config that runs as is (rules above, alerts logged without an Alertmanager);
# the Helm chart mounts its own over it.
COPY deploy/config.default.yaml /etc/talos-alert-sidecar/config.yaml
# The base image's `node` user, by number so Kubernetes can verify runAsNonRoot.
USER 1000:1000
# Talos json_lines (TCP and UDP share the port) and HTTP (/metrics, /healthz, /readyz, API).
EXPOSE 6000/tcp 6000/udp 8080
# No V8 flags: --max-semi-space-size=4 would hold ~20 MB less at 100k lines/s but costs
# ~30 ms of every start (BENCHMARKS.md). The benchmark starts the sidecar with whatever
# flags this ENTRYPOINT has.
# Exec form: node is PID 1 and receives SIGTERM directly. The sidecar installs its own
# SIGTERM/SIGINT handlers (flush Loki, write state, exit), which PID 1 needs because the
# kernel applies no default action to it; it spawns no children, so no reaper (tini) is needed.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["run", "--config", "/etc/talos-alert-sidecar/config.yaml"]
