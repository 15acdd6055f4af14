# isw-ko image: plain npm steps on the official Node 24 image (no build tools beyond npm).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# `npm install`, not `npm ci`: the lock file lacks the macOS/Windows builds of msgpackr-extract (the
# registry mirror it was made on has none), and `npm ci` refuses it as out of sync; `npm install`
# follows the lock file for everything else (README, "Versions pinned on purpose").
RUN npm install --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npx tsc -p tsconfig.json --outDir dist --noEmit false

FROM node:24-bookworm-slim
ENV NODE_ENV=production LOG_FORMAT=json
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm install --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY templates ./templates
COPY prompts ./prompts
USER node
ENTRYPOINT ["node", "bin/isw-ko.js"]
CMD ["run"]
