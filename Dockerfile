# gds: one image for every role. Multi-stage: the build stage has the compilers (better-sqlite3
# is built from source) and dev tools; the runtime stage has only what runs, as a non-root user.
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY scripts/bundle.js ./scripts/bundle.js
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production GDS_HOME=/data GDS_LOG_LEVEL=info
WORKDIR /app
COPY --from=build /app/package.json /app/oclif.manifest.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 4001 8080
ENTRYPOINT ["node", "/app/bin/run.js"]
CMD ["node", "start", "--role", "registry"]
