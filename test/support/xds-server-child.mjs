// A dns-eds xDS server (store + createXdsServer) in its own process, driven over IPC by
// test/support/xds-server-process.ts, so a test can read the server's own RSS while a client attacks it.
// Run with --expose-gc; argv[2] is a private build folder (test/support/private-build.ts).
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import pino from "pino";

const dir = process.argv[2];
const xds = await import(pathToFileURL(join(dir, "xds", "index.js")).href);
const options = JSON.parse(process.env.XDS_CHILD_OPTIONS ?? "{}");

// Log lines are counted, not printed: the log-flood tests read how many went out and how long they were.
const logs = { lines: 0, longest: 0, byMsg: {}, suppressedSinceLast: 0 };
const logger = pino(
  { level: "warn" },
  {
    write(line) {
      logs.lines++;
      logs.longest = Math.max(logs.longest, line.length);
      const parsed = JSON.parse(line);
      logs.byMsg[parsed.msg] = (logs.byMsg[parsed.msg] ?? 0) + 1;
      logs.suppressedSinceLast += parsed.suppressedSinceLast ?? 0;
    },
  },
);
const limitHits = {};
const store = new xds.ResourceStore();
const server = xds.createXdsServer({
  store,
  logger,
  limits: options.limits ?? {},
  metrics: {
    streamOpened() {},
    streamClosed() {},
    pushed() {},
    nacked() {},
    limitExceeded(limit) {
      limitHits[limit] = (limitHits[limit] ?? 0) + 1;
    },
  },
});
const port = await server.listen("127.0.0.1:0");

function cla(name, hosts, port) {
  return xds.clusterLoadAssignment(name, [
    { zone: "z1", endpoints: hosts.map((address) => ({ address, port })) },
  ]);
}

const handlers = {
  publish({ name, hosts, port: p = 8080 }) {
    store.publish({ upsert: [{ typeUrl: xds.TYPE_URLS.endpoint, name, resource: cla(name, hosts, p) }] });
    return store.get(xds.TYPE_URLS.endpoint, name)?.version;
  },
  /** A CLA of `n` endpoints, for responses of a chosen size. */
  publishLarge({ name, n, round = 0 }) {
    const hosts = Array.from({ length: n }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    return handlers.publish({ name, hosts, port: 1000 + round });
  },
  rss() {
    globalThis.gc?.();
    globalThis.gc?.();
    return process.memoryUsage().rss;
  },
  stats() {
    return {
      streams: server.streamCount(),
      connections: server.connectionCount(),
      limitHits,
      logs,
    };
  },
  async stop() {
    await server.shutdown(500);
    setImmediate(() => process.exit(0));
    return true;
  },
};

process.on("message", async ({ id, cmd, args }) => {
  try {
    const value = await handlers[cmd](args ?? {});
    process.send({ id, value });
  } catch (err) {
    process.send({ id, error: String(err?.stack ?? err) });
  }
});
process.on("disconnect", () => process.exit(0));
process.send({ ready: port });
