/**
 * The admin HTTP server (node:http, loopback by default): `/healthz` (the process answers),
 * `/readyz` (injected readiness checks → 200/503 with JSON reasons), `/metrics` (Prometheus text from
 * the prom-client registry), `/config_dump` (the xDS resources served, in Envoy's admin shape, with
 * `?resource=`, `?mask=`, `?name_regex=`), `/clusters` (endpoints per cluster, text or `?format=json`)
 * and `/clients` (every connected xDS client and what it holds). Read-only: anything but GET/HEAD is 405.
 *
 * Providers can be attached after start (`setProviders`), so the server answers `/healthz` and
 * `/metrics` while the rest of the process is still starting, and `/readyz` says so.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { parseHostPort } from "../dns/host-port.js";
import { bearerMatches, OPEN_PATHS } from "./admin-access.js";
import { type ClientRow, renderClientDetail, renderClientsHtml, renderClientsText } from "./clients-page.js";
import { type ClusterView, renderClustersHtml, renderClustersText } from "./clusters-page.js";
import { evaluateReadiness, type ReadinessCheck } from "./readiness.js";

export interface AdminProviders {
  readiness?: readonly ReadinessCheck[];
  /**
   * The xDS resources currently served as Envoy's `{"configs": [...]}` (see src/xds/envoy-config-dump.ts).
   * Throws an error whose `code` is ERR_CONFIG_DUMP_NOT_FOUND (→ 404) or ERR_CONFIG_DUMP_BAD_QUERY (→ 400).
   */
  configDump?: (query: ConfigDumpParams) => unknown | Promise<unknown>;
  clusters?: () => readonly ClusterView[] | Promise<readonly ClusterView[]>;
  /** The connected xDS clients (this replica's CSDS view, see clients-page.ts). */
  clients?: () => readonly ClientRow[] | Promise<readonly ClientRow[]>;
}

/** Envoy's `/config_dump` query parameters. */
export interface ConfigDumpParams {
  resource?: string;
  mask?: string;
  nameRegex?: string;
}

export interface AdminLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface AdminServerOptions extends AdminProviders {
  /** `host:port`; port 0 picks a free one. */
  listen: string;
  /** Bearer token every request must carry (admin-access.ts); `/healthz` and `/readyz`'s status stay open. */
  token?: string;
  /** Serve HTTPS; with `ca`, clients must present a certificate it signed (mTLS). */
  tls?: { cert: Buffer; key: Buffer; ca?: Buffer };
  /** Connections at once at most (default 64); more are closed at accept. */
  maxConnections?: number;
  /** Called for each request refused for want of the token. */
  onUnauthorized?: (path: string) => void;
  registry: Registry;
  logger?: AdminLogger;
  /** Bound on each readiness check (default 2 s). */
  readinessTimeoutMs?: number;
}

export class AdminError extends Error {
  readonly code: "ERR_ADMIN_LISTEN";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "AdminError";
    this.code = "ERR_ADMIN_LISTEN";
  }
}

export interface AdminServer {
  /** The bound port (useful with port 0). */
  readonly port: number;
  readonly url: string;
  setProviders(providers: AdminProviders): void;
  /** From now on `/readyz` is 503 with this reason (shutting down); `/healthz` stays 200. */
  setDraining(reason: string): void;
  close(): Promise<void>;
}

const INDEX = [
  "dns-eds admin",
  "",
  "/healthz       the process is up",
  "/readyz        ready to serve: DNS reachable, etcd connected or not configured, every cluster resolved once",
  "/metrics       Prometheus metrics",
  "/config_dump   xDS resources served, as Envoy's admin config dump (JSON; ?resource= ?mask= ?name_regex=)",
  "/clusters      endpoints of each cluster (text; ?format=json or ?format=html)",
  "/clients       connected xDS clients and what each holds: SYNCED, STALE, NACKED (text; ?format=json|html, ?client=ID)",
  "",
].join("\n");

/** JSON that survives bigint fields (protobuf int64 values). */
const toJson = (value: unknown) =>
  JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 2);

export async function startAdminServer(opts: AdminServerOptions): Promise<AdminServer> {
  const parsed = parseHostPort(opts.listen, { allowPortZero: true });
  if (!parsed.ok) throw new AdminError(`admin listen address: ${parsed.problem}`);
  let providers: AdminProviders = {
    ...(opts.readiness ? { readiness: opts.readiness } : {}),
    ...(opts.configDump ? { configDump: opts.configDump } : {}),
    ...(opts.clusters ? { clusters: opts.clusters } : {}),
    ...(opts.clients ? { clients: opts.clients } : {}),
  };
  let started = opts.readiness !== undefined;
  let drainingReason: string | undefined;

  const send = (res: ServerResponse, status: number, type: string, body: string) => {
    res.writeHead(status, {
      "content-type": type,
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
    });
    res.end(res.req.method === "HEAD" ? undefined : body);
  };
  const sendJson = (res: ServerResponse, status: number, value: unknown) =>
    send(res, status, "application/json; charset=utf-8", `${toJson(value)}\n`);

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      send(res, 405, "text/plain; charset=utf-8", "read-only: use GET\n");
      return;
    }
    const url = new URL(req.url ?? "/", "http://admin.invalid");
    const authorized = opts.token === undefined || bearerMatches(req.headers.authorization, opts.token);
    if (!authorized && !OPEN_PATHS.has(url.pathname)) {
      opts.onUnauthorized?.(url.pathname);
      res.setHeader("www-authenticate", 'Bearer realm="dns-eds admin"');
      send(res, 401, "text/plain; charset=utf-8", "unauthorized: this admin port needs a bearer token\n");
      return;
    }
    // Without the token, /readyz says ready or not and nothing more (no cluster names, no etcd state).
    const redact = <T extends { ready: boolean }>(body: T): T | { ready: boolean } =>
      authorized ? body : { ready: body.ready };
    switch (url.pathname) {
      case "/":
        send(res, 200, "text/plain; charset=utf-8", INDEX);
        return;
      case "/healthz":
        sendJson(res, 200, { status: "ok" });
        return;
      case "/readyz": {
        if (drainingReason !== undefined) {
          sendJson(
            res,
            503,
            redact({ ready: false, checks: [{ name: "shutdown", ok: false, reason: drainingReason }] }),
          );
          return;
        }
        if (!started) {
          sendJson(
            res,
            503,
            redact({ ready: false, checks: [{ name: "startup", ok: false, reason: "still starting" }] }),
          );
          return;
        }
        const report = await evaluateReadiness(providers.readiness ?? [], opts.readinessTimeoutMs);
        sendJson(res, report.ready ? 200 : 503, redact(report));
        return;
      }
      case "/metrics":
        send(res, 200, opts.registry.contentType, await opts.registry.metrics());
        return;
      case "/config_dump": {
        if (!providers.configDump) {
          sendJson(res, 503, { error: "no resources published yet" });
          return;
        }
        const q = url.searchParams;
        const params: ConfigDumpParams = {};
        for (const [key, param] of [
          ["resource", "resource"],
          ["mask", "mask"],
          ["nameRegex", "name_regex"],
        ] as const) {
          const v = q.get(param);
          if (v !== null) params[key] = v;
        }
        try {
          sendJson(res, 200, await providers.configDump(params));
        } catch (e) {
          const code = (e as { code?: unknown }).code;
          if (code === "ERR_CONFIG_DUMP_NOT_FOUND" || code === "ERR_CONFIG_DUMP_BAD_QUERY") {
            // As Envoy: a plain-text reason, 404 for an unknown resource, 400 for a bad mask or regex.
            send(
              res,
              code === "ERR_CONFIG_DUMP_NOT_FOUND" ? 404 : 400,
              "text/plain; charset=utf-8",
              `${(e as Error).message}\n`,
            );
            return;
          }
          throw e;
        }
        return;
      }
      case "/clusters": {
        const clusters = providers.clusters ? await providers.clusters() : [];
        const format =
          url.searchParams.get("format") ??
          (/\btext\/html\b/.test(req.headers.accept ?? "") ? "html" : "text");
        if (format === "json") sendJson(res, 200, { clusters });
        else if (format === "html") send(res, 200, "text/html; charset=utf-8", renderClustersHtml(clusters));
        else send(res, 200, "text/plain; charset=utf-8", renderClustersText(clusters));
        return;
      }
      case "/clients": {
        const all = providers.clients ? await providers.clients() : [];
        const id = url.searchParams.get("client");
        const rows = id === null ? all : all.filter((r) => r.id === id);
        const format =
          url.searchParams.get("format") ??
          (/\btext\/html\b/.test(req.headers.accept ?? "") ? "html" : "text");
        if (format === "json") sendJson(res, 200, { clients: rows });
        else if (format === "html") send(res, 200, "text/html; charset=utf-8", renderClientsHtml(rows));
        else if (id !== null && rows.length === 0)
          send(res, 404, "text/plain; charset=utf-8", `no client ${id}\n`);
        else if (id !== null)
          send(res, 200, "text/plain; charset=utf-8", rows.map(renderClientDetail).join("\n"));
        else send(res, 200, "text/plain; charset=utf-8", renderClientsText(rows));
        return;
      }
      default:
        send(res, 404, "text/plain; charset=utf-8", `not found: ${url.pathname}\n\n${INDEX}`);
    }
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      opts.logger?.error({ err, path: req.url }, "admin request failed");
      if (!res.headersSent) sendJson(res, 500, { error: (err as Error)?.message ?? String(err) });
      else res.destroy();
    });
  };
  const tls = opts.tls;
  const server: Server = tls
    ? createHttpsServer(
        {
          cert: tls.cert,
          key: tls.key,
          // With a CA, the handshake itself refuses clients without a certificate it signed.
          ...(tls.ca ? { ca: tls.ca, requestCert: true, rejectUnauthorized: true } : {}),
        },
        onRequest,
      )
    : createServer(onRequest);
  // A bound on sockets: a client opening connections in a loop cannot exhaust descriptors here.
  server.maxConnections = opts.maxConnections ?? 64;
  // Admin requests are small; slow or idle clients must not pin sockets.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) =>
      reject(new AdminError(`admin server cannot listen on ${opts.listen}: ${err.message}`, { cause: err }));
    server.once("error", onError);
    server.listen(parsed.value.port, parsed.value.host, () => {
      server.off("error", onError);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = parsed.value.family === 6 ? `[${parsed.value.host}]` : parsed.value.host;

  return {
    port,
    url: `${tls ? "https" : "http"}://${host}:${port}`,
    setProviders(next) {
      providers = { ...providers, ...next };
      if (next.readiness !== undefined) started = true;
    },
    setDraining(reason) {
      drainingReason = reason;
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
