/**
 * `dns-eds demo`: the whole product in one command. Starts the embedded authoritative DNS server on the
 * demo zone, three gRPC backends, the control plane on a config pointing at that zone, and a proxyless
 * gRPC client on `xds:///echo`; then walks through a script (add a record, fail a backend, bring it
 * back, prefer IPv6, drop the AAAA record) while a redrawn table shows where the calls land.
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import type { ClusterView } from "../admin/clusters-page.js";
import type { DnsEdsConfig } from "../config/config-types.js";
import { parseConfigObject } from "../config/load-config.js";
import { type DemoBackend, startBackends } from "./backends.js";
import { CallStats } from "./call-stats.js";
import { renderDemo } from "./demo-table.js";
import {
  DEMO_BACKEND_PORT,
  DEMO_ORIGIN,
  DEMO_ZONE_URL,
  defaultEmbeddedConfigObject,
} from "./embedded-default.js";
import { startXdsLoad, type XdsLoadClient } from "./xds-load-client.js";
import { startZoneServer, type ZoneServer } from "./zone-server.js";

/** What the demo needs from the control plane (`startServer` in src/app/serve.ts). */
/** The demo cluster's grace for empty answers, ms: short enough to end inside a phase. */
const DEMO_EMPTY_GRACE_MS = 1_000;

export interface ControlPlane {
  stop(): Promise<void>;
  reload(config: DnsEdsConfig): Promise<void>;
  /** When present, the demo shows what is published next to where calls land. */
  adminProviders?: { clusters?: () => readonly ClusterView[] | Promise<readonly ClusterView[]> };
}
export type StartServer = (config: DnsEdsConfig, opts: { logger: pino.Logger }) => Promise<ControlPlane>;

export class DemoError extends Error {
  constructor(
    message: string,
    readonly code: "ERR_DEMO_NO_CONTROL_PLANE" | "ERR_DEMO_PORT",
  ) {
    super(message);
    this.name = "DemoError";
  }
}

export interface RunDemoOptions {
  /** Length of each of the six phases (default 10 s, so about a minute in all). */
  phaseMs?: number;
  /** Where the live view goes (default stdout); redrawn in place when it is a terminal. */
  out?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Stops the demo early; without one, Ctrl-C (SIGINT) or SIGTERM does. */
  signal?: AbortSignal;
  /** The control plane; default: `startServer` from src/app/serve.js, imported lazily. */
  startServer?: StartServer;
  /** Control-plane logs go here, not to the terminal the table is drawn on. */
  logFile?: string;
  /** Client pacing (default 2 workers, 40 ms apart). */
  concurrency?: number;
  pauseMs?: number;
  /**
   * Ends each phase (default: after `phaseMs`). Tests pass a bounded wait for the phase's effect to show
   * in `recent()` (calls per key in the last 2 s), so no phase is judged on a fixed time slice.
   */
  phaseEnd?: (phase: string, recent: () => Record<string, number>, signal: AbortSignal) => Promise<void>;
}

export interface DemoReport {
  /** Calls per `backend address` (or `error CODE`) in each phase. */
  phases: Array<{ phase: string; counts: Record<string, number> }>;
  xdsListen: string;
  zoneServer: string;
  backendPort: number;
  logFile: string;
  aborted: boolean;
}

interface Phase {
  id: string;
  title: string;
  explain: string;
  action?: () => Promise<void>;
}

const ECHO = `echo.${DEMO_ORIGIN}.`;
const SRV = `_grpc._tcp.echo.${DEMO_ORIGIN}.`;
const TYPE_ORDER = ["A", "AAAA", "CNAME", "TXT", "SRV"];

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

async function loadStartServer(): Promise<StartServer> {
  // A variable specifier: the integrator's module may land after this one, and the CLI imports the
  // demo lazily, so a missing control plane is a run-time message, not a build failure.
  const spec = "../app/serve.js";
  try {
    const mod = (await import(spec)) as { startServer?: StartServer };
    if (typeof mod.startServer !== "function") throw new Error("src/app/serve.ts exports no startServer");
    return mod.startServer;
  } catch (err) {
    throw new DemoError(
      `the control plane is not available: ${(err as Error).message}`,
      "ERR_DEMO_NO_CONTROL_PLANE",
    );
  }
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}

export async function runDemo(opts: RunDemoOptions = {}): Promise<DemoReport> {
  const out = opts.out ?? process.stdout;
  const tty = out.isTTY === true;
  const phaseMs = opts.phaseMs ?? 10_000;
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  if (opts.signal) {
    if (opts.signal.aborted) controller.abort();
    else opts.signal.addEventListener("abort", onSigint, { once: true });
  } else {
    process.once("SIGINT", onSigint);
    process.once("SIGTERM", onSigint);
  }
  const signal = controller.signal;

  const logFile = opts.logFile ?? join(tmpdir(), `dns-eds-demo-${process.pid}.log`);
  const logger = pino({ level: "info" }, pino.destination({ dest: logFile, sync: true }));
  const startServer = opts.startServer ?? (await loadStartServer());

  const cleanups: Array<() => Promise<void>> = [];
  let zone: ZoneServer | undefined;
  let backends: DemoBackend[] = [];
  let client: XdsLoadClient | undefined;
  const stats = new CallStats(2000);
  let timer: NodeJS.Timeout | undefined;
  try {
    zone = await startZoneServer({ zoneText: readFileSync(DEMO_ZONE_URL, "utf8"), host: "127.0.0.1" });
    cleanups.push(() => (zone as ZoneServer).close());

    // One port on every address: A records carry none. Prefer the zone's 50051, else any free one.
    const specs = [
      { name: "backend-1", hosts: ["127.0.0.1", "::1"] },
      { name: "backend-2", hosts: ["127.0.0.2"] },
      { name: "backend-3", hosts: ["127.0.0.3"] },
    ];
    const started = await startBackends(specs, { port: DEMO_BACKEND_PORT }).catch(() => startBackends(specs));
    backends = started.backends;
    cleanups.push(async () => {
      for (const b of backends) await b.stop();
    });
    const port = started.port;
    if (port !== DEMO_BACKEND_PORT) {
      zone.updateRecords({
        name: SRV,
        type: "SRV",
        rdata: ["backend-1", "backend-2", "backend-3"].map((t) => `0 10 ${port} ${t}`),
      });
    }

    const xdsListen = `127.0.0.1:${await freePort("127.0.0.1")}`;
    const adminListen = `127.0.0.1:${await freePort("127.0.0.1")}`;
    const raw = defaultEmbeddedConfigObject(zone.port, {
      backendPort: port,
      healthChecks: true,
      xdsListen,
      adminListen,
    });
    const configWith = (ipFamily: string): DnsEdsConfig => {
      const r = structuredClone(raw);
      (r.clusters[0] as { ipFamily: string }).ipFamily = ipFamily;
      // A short grace for empty answers (issue 16; the default is at least 60 s), so the last phase's
      // removed AAAA record leaves within the phase and the grace still shows.
      (r.clusters[0] as { emptyGraceMs?: number }).emptyGraceMs = DEMO_EMPTY_GRACE_MS;
      return parseConfigObject(r, { source: "<demo>" });
    };
    const plane = await startServer(configWith("V4_PREFERRED"), { logger });
    cleanups.push(() => plane.stop());

    client = await startXdsLoad({
      target: "xds:///echo",
      xdsServer: xdsListen,
      stats,
      concurrency: opts.concurrency ?? 2,
      pauseMs: opts.pauseMs ?? 40,
    });
    cleanups.push(() => (client as XdsLoadClient).stop());

    const z = zone;
    const b2 = backends[1] as DemoBackend;
    const phases: Phase[] = [
      {
        id: "start",
        title: "Two A records behind echo",
        explain:
          "dns-eds resolved echo.demo.dns-eds.test and published A 127.0.0.1, 127.0.0.2 at priority 0 (AAAA ::1 waits at priority 1); the client round-robins.",
      },
      {
        id: "record-added",
        title: "Added A 127.0.0.3 to echo",
        explain:
          "The record changed in DNS (TTL 5 s): dns-eds re-resolves, pushes a new assignment, backend-3 joins.",
        action: async () =>
          z.updateRecords({ name: ECHO, type: "A", rdata: ["127.0.0.1", "127.0.0.2", "127.0.0.3"] }),
      },
      {
        id: "backend-failed",
        title: "backend-2 failed",
        explain:
          "backend-2 reports NOT_SERVING and stops: the gRPC health check marks it UNHEALTHY and the client routes around it.",
        action: async () => {
          b2.setServing(false);
          await b2.stop();
        },
      },
      {
        id: "backend-back",
        title: "backend-2 is back",
        explain: "backend-2 serves again: after one healthy check it is HEALTHY and gets its share again.",
        action: async () => {
          await b2.start();
          b2.setServing(true);
        },
      },
      {
        id: "prefer-ipv6",
        title: "Cluster echo now prefers IPv6",
        explain:
          "Config reloaded with ipFamily V6_PREFERRED (streams stay up): echo has AAAA ::1, so calls go to backend-1 over IPv6.",
        action: async () => plane.reload(configWith("V6_PREFERRED")),
      },
      {
        id: "aaaa-removed",
        title: "Removed the AAAA record",
        explain: `No IPv6 address left for echo: dns-eds keeps ::1 for a ${DEMO_EMPTY_GRACE_MS / 1000} s grace (a DNS blip would not move a call; 60 s by default), then V6_PREFERRED falls back to the IPv4 addresses.`,
        action: async () => z.updateRecords({ name: ECHO, type: "AAAA", rdata: [] }),
      },
    ];

    const startedAt = Date.now();
    const totalMs = phaseMs * phases.length;
    let current = phases[0] as Phase;
    const view = () =>
      renderDemo(
        {
          title: "dns-eds demo — DNS names to xDS endpoints, live",
          elapsedMs: Date.now() - startedAt,
          totalMs,
          phase: current.title,
          explain: current.explain,
          records: z
            .records()
            .filter((r) => r.name === ECHO || r.name === SRV)
            // Updates append to the zone; show a stable order instead (the name first, then A, AAAA, TXT, SRV).
            .sort(
              (a, b) =>
                Number(a.name !== ECHO) - Number(b.name !== ECHO) ||
                TYPE_ORDER.indexOf(a.type) - TYPE_ORDER.indexOf(b.type),
            )
            .map((r) => {
              const data =
                r.type === "SRV"
                  ? `${r.data.priority} ${r.data.weight} ${r.data.port} ${r.data.target}`
                  : r.data;
              return `${r.name.padEnd(36)} ${String(r.ttl).padStart(3)} ${r.type.padEnd(5)} ${Array.isArray(data) ? data.map((s) => `"${s}"`).join(" ") : data}`;
            }),
          published,
          shares: stats.shares(),
          windowMs: 2000,
          footer: [
            `DNS ${z.server} (dig @127.0.0.1 -p ${z.port} echo.${DEMO_ORIGIN})   xDS ${xdsListen}   admin http://${adminListen}/clusters`,
            `control-plane log: ${logFile}`,
          ],
        },
        tty,
      );
    // The control plane's own view of the cluster, refreshed in the background for the table.
    let published: string[] = [];
    const refreshPublished = async (): Promise<void> => {
      const views = (await plane.adminProviders?.clusters?.()) ?? [];
      const echo = views.find((c) => c.name === "echo");
      published = (echo?.endpoints ?? [])
        .map((e) => ({
          e,
          addr: e.address.includes(":") ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`,
        }))
        .sort((a, b) => a.e.priority - b.e.priority || a.addr.localeCompare(b.addr))
        .map(({ e, addr }) => `${addr.padEnd(22)} priority ${e.priority}  ${e.health}`);
    };
    const publishedTimer = setInterval(() => void refreshPublished().catch(() => {}), 500);
    cleanups.push(async () => clearInterval(publishedTimer));
    if (tty) {
      out.write("\x1b[?25l");
      timer = setInterval(() => out.write(`\x1b[H\x1b[2J${view().join("\n")}\n`), 500);
    }
    for (const phase of phases) {
      if (signal.aborted) break;
      // Act first, then open the phase: calls started from here on see the change.
      await phase.action?.();
      current = phase;
      stats.setPhase(phase.id);
      logger.info({ phase: phase.id }, phase.title);
      const recent = () =>
        Object.fromEntries(
          stats
            .shares()
            .filter((s) => s.recent > 0)
            .map((s) => [s.key, s.recent]),
        );
      await (opts.phaseEnd ? opts.phaseEnd(phase.id, recent, signal) : abortableSleep(phaseMs, signal));
      await refreshPublished().catch(() => {});
      if (!tty) out.write(`${view().join("\n")}\n\n`);
    }
    return {
      phases: stats.byPhase(),
      xdsListen,
      zoneServer: z.server,
      backendPort: port,
      logFile,
      aborted: signal.aborted,
    };
  } finally {
    if (timer) clearInterval(timer);
    if (tty) out.write("\x1b[?25h");
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigint);
    opts.signal?.removeEventListener("abort", onSigint);
    // Client first so it does not log errors about the servers going away, then the rest in reverse.
    for (const c of cleanups.reverse()) await c().catch(() => {});
    logger.flush();
  }
}
