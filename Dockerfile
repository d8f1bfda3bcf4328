# Flash-sale checkout engine image: one image, three commands (see docker-compose.yml):
#   node dist/src/api.js                 (default) HTTP API
#   node dist/workers/purchase-worker.js          purchase worker
#   node dist/src/cli/migrate.js                  create/migrate the database

FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund
# Everything but what .dockerignore leaves out (tests, tools/, bench/, dist/ ...).
COPY . .
# Compile src/, workers/, migrations/, seeds/ to dist/ (copies the Lua scripts and pages too),
# then drop dev dependencies.
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# Only what runs: the pruned dependencies and the compiled build (no tooling, no dev-only imports).
FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000
# Flags: src/config/node-flags.ts says why.
CMD ["node", "--max-semi-space-size=16", "--heap-growing-percent=100", "dist/src/api.js"]
