/**
 * A small real authoritative DNS server for one zone, over UDP and TCP (2-byte length framing,
 * RFC 1035 §4.2.2 / RFC 7766) on the same port. It backs `npm start` (the embedded default) and the
 * demo, so a newcomer gets names that dns-eds can resolve without any outside DNS, and the demo can
 * change a record live and watch the endpoints follow.
 */
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from "node:dgram";
import { type FSWatcher, watch } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer, isIPv6, type Socket, type Server as TcpServer } from "node:net";
import { basename, dirname } from "node:path";
import { answerQuery, DEFAULT_MAX_UDP_PAYLOAD, ZoneIndex } from "./zone-answer.js";
import {
  absoluteName,
  type LinedRecord,
  makeRecord,
  parseRdata,
  parseTtl,
  parseZoneFile,
  tokenizeRdata,
  validateRecords,
  type Zone,
  type ZoneRecord,
  type ZoneRecordType,
} from "./zone-file.js";

export class ZoneServerError extends Error {
  constructor(
    message: string,
    readonly code: "ERR_ZONE_SERVER_OPTIONS" | "ERR_ZONE_SERVER_BIND",
  ) {
    super(message);
    this.name = "ZoneServerError";
  }
}

export interface ZoneServerOptions {
  /** Zone in master-file format; exactly one of `zoneText` and `zoneFile`. */
  zoneText?: string;
  zoneFile?: string;
  /** Origin for files without `$ORIGIN`. */
  origin?: string;
  /** Listen address (default 127.0.0.1; `::1` works too). */
  host?: string;
  /** Port for both UDP and TCP; 0 picks a free one (default). */
  port?: number;
  /** Largest UDP response regardless of the client's EDNS size (default 1232). */
  maxUdpPayload?: number;
  /** A TCP connection with no complete query for this long is closed (default 10 s, RFC 7766 §6.2.3). */
  tcpIdleMs?: number;
  /**
   * Reload `zoneFile` when it changes (debounced); a bad edit keeps the served zone and is reported
   * through `onReload`. Lets someone edit the demo zone and watch dns-eds follow.
   */
  watch?: boolean;
  /** Called after each watched reload: no argument on success, the error on failure. */
  onReload?: (error?: Error) => void;
  /** TCP connections beyond this are refused, so idle clients cannot exhaust the process (default 256). */
  maxTcpConnections?: number;
}

export interface RecordUpdate {
  /** Owner: relative to the origin, `@`, or absolute with a trailing dot. */
  name: string;
  type: Exclude<ZoneRecordType, "SOA">;
  /** RDATA in master-file syntax, one string per record (e.g. `"127.0.0.2"`, `"0 10 50051 b1"`); empty deletes. */
  rdata: readonly string[];
  /** Default: the TTL the RRset had, else the SOA minimum. */
  ttl?: number;
}

export interface ZoneServer {
  readonly port: number;
  readonly address: string;
  /** `address:port` in the form dns-eds' `dns.servers` takes (IPv6 in brackets). */
  readonly server: string;
  readonly origin: string;
  /** Re-reads `zoneFile` now (what the watcher does); rejects and keeps the old zone on a bad file. */
  reloadFile(): Promise<void>;
  /** Replaces the whole zone (throws `ZoneFileError` and keeps the old zone on a bad text). */
  setZone(text: string): void;
  /** Replaces RRsets in place and bumps the SOA serial; all updates apply or none. */
  updateRecords(...updates: RecordUpdate[]): void;
  /** Current records (a copy). */
  records(): ZoneRecord[];
  /** Queries answered so far, by transport. */
  readonly stats: { udp: number; tcp: number; dropped: number };
  close(): Promise<void>;
}

const MAX_BIND_ATTEMPTS = 20;
const MAX_TCP_PENDING_BYTES = 1024 * 1024;

/** Starts the server; resolves once both UDP and TCP listen on the same port. */
export async function startZoneServer(options: ZoneServerOptions): Promise<ZoneServer> {
  if ((options.zoneText === undefined) === (options.zoneFile === undefined))
    throw new ZoneServerError("give exactly one of zoneText and zoneFile", "ERR_ZONE_SERVER_OPTIONS");
  const text = options.zoneText ?? (await readFile(options.zoneFile as string, "utf8"));
  const parseOpts = options.origin ? { origin: options.origin } : {};
  let index = new ZoneIndex(parseZoneFile(text, parseOpts));
  const host = options.host ?? "127.0.0.1";
  const maxUdpPayload = options.maxUdpPayload ?? DEFAULT_MAX_UDP_PAYLOAD;
  const tcpIdleMs = options.tcpIdleMs ?? 10_000;
  const stats = { udp: 0, tcp: 0, dropped: 0 };

  const onUdp = (udp: UdpSocket) => (msg: Buffer, rinfo: RemoteInfo) => {
    let out: Buffer | null;
    try {
      out = answerQuery(index, msg, { transport: "udp", maxUdpPayload });
    } catch {
      out = null;
    }
    if (!out) {
      stats.dropped++;
      return;
    }
    stats.udp++;
    udp.send(out, rinfo.port, rinfo.address);
  };

  const sockets = new Set<Socket>();
  const onTcp = (sock: Socket): void => {
    sockets.add(sock);
    let buf: Buffer = Buffer.alloc(0);
    sock.setTimeout(tcpIdleMs, () => sock.destroy());
    sock.on("close", () => sockets.delete(sock));
    sock.on("error", () => sock.destroy());
    sock.on("data", (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      // Pipelined queries are answered in order; the loop ends when no full message is buffered.
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        let out: Buffer | null;
        try {
          out = answerQuery(index, msg, { transport: "tcp" });
        } catch {
          out = null;
        }
        if (!out) {
          stats.dropped++;
          sock.destroy();
          return;
        }
        stats.tcp++;
        const frame = Buffer.alloc(2 + out.length);
        frame.writeUInt16BE(out.length, 0);
        out.copy(frame, 2);
        sock.write(frame);
        // A client that pipelines queries but never reads would grow our buffer without bound.
        if (sock.writableLength > MAX_TCP_PENDING_BYTES) {
          sock.destroy();
          return;
        }
      }
    });
  };

  const { udp, tcp } = await bindBoth(host, options.port ?? 0, onUdp, onTcp);
  tcp.maxConnections = options.maxTcpConnections ?? 256;
  const port = udp.address().port;
  let closed = false;
  let watcher: FSWatcher | undefined;
  let debounce: NodeJS.Timeout | undefined;

  const reloadFile = async (): Promise<void> => {
    if (options.zoneFile === undefined)
      throw new ZoneServerError("reloadFile needs a zoneFile", "ERR_ZONE_SERVER_OPTIONS");
    const fresh = await readFile(options.zoneFile, "utf8");
    index = new ZoneIndex(parseZoneFile(fresh, parseOpts));
  };
  if (options.watch && options.zoneFile !== undefined) {
    const name = basename(options.zoneFile);
    // The folder, not the file: editors save by writing a new file and renaming it over the old one.
    watcher = watch(dirname(options.zoneFile), { persistent: false }, (_event, filename) => {
      if (filename !== null && filename !== name) return;
      if (debounce) clearTimeout(debounce);
      debounce = setTimeout(() => {
        debounce = undefined;
        if (closed) return;
        reloadFile().then(
          () => options.onReload?.(),
          (err: Error) => options.onReload?.(err),
        );
      }, 100);
    });
    watcher.on("error", (err) => options.onReload?.(err));
  }

  const current = (): Zone => index.zone;
  const server: ZoneServer = {
    port,
    address: host,
    server: isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`,
    get origin() {
      return index.origin;
    },
    stats,
    reloadFile,
    setZone(newText: string) {
      index = new ZoneIndex(parseZoneFile(newText, parseOpts));
    },
    updateRecords(...updates: RecordUpdate[]) {
      const zone = current();
      let records = zone.records.slice();
      for (const u of updates) {
        const name = absoluteName(u.name, zone.origin, 0);
        const old = records.filter((r) => r.name === name && r.type === u.type);
        const ttl = u.ttl ?? old[0]?.ttl ?? zone.soa.data.minimum;
        parseTtl(String(ttl), 0);
        records = records.filter((r) => !(r.name === name && r.type === u.type));
        for (const rd of u.rdata) {
          records.push(makeRecord(name, ttl, u.type, parseRdata(u.type, tokenizeRdata(rd), zone.origin, 0)));
        }
      }
      // A new serial tells anyone comparing SOAs (and the demo's readers) that the zone changed.
      records = records.map((r) =>
        r.type === "SOA" ? { ...r, data: { ...r.data, serial: (r.data.serial + 1) >>> 0 } } : r,
      );
      const lined: LinedRecord[] = records.map((record) => ({ line: 0, record }));
      validateRecords(zone.origin, lined);
      const soa = records.find((r) => r.type === "SOA");
      if (soa?.type !== "SOA") throw new Error("unreachable: SOA vanished");
      index = new ZoneIndex({ origin: zone.origin, soa: { ttl: soa.ttl, data: soa.data }, records });
    },
    records() {
      return index.zone.records.map((r) => ({ ...r }) as ZoneRecord);
    },
    async close() {
      if (closed) return;
      closed = true;
      watcher?.close();
      if (debounce) clearTimeout(debounce);
      for (const s of sockets) s.destroy();
      await Promise.all([
        new Promise<void>((res) => udp.close(() => res())),
        new Promise<void>((res) => tcp.close(() => res())),
      ]);
    },
  };
  return server;
}

/**
 * Binds UDP first (port 0 lets the OS choose), then TCP on the same number; when TCP finds it taken,
 * both are released and the next attempt picks another port. Bounded so a full port range fails loudly.
 */
async function bindBoth(
  host: string,
  port: number,
  onUdp: (udp: UdpSocket) => (msg: Buffer, rinfo: RemoteInfo) => void,
  onTcp: (sock: Socket) => void,
): Promise<{ udp: UdpSocket; tcp: TcpServer }> {
  let lastError: unknown;
  for (let attempt = 0; attempt < (port === 0 ? MAX_BIND_ATTEMPTS : 1); attempt++) {
    const udp = createSocket({ type: isIPv6(host) ? "udp6" : "udp4" });
    try {
      await new Promise<void>((res, rej) => {
        udp.once("error", rej);
        udp.bind(port, host, () => {
          udp.off("error", rej);
          res();
        });
      });
    } catch (err) {
      lastError = err;
      udp.close();
      continue;
    }
    udp.on("message", onUdp(udp));
    // A send error (e.g. ICMP unreachable reported back) must not take the server down.
    udp.on("error", () => {});
    const chosen = udp.address().port;
    const tcp = createServer(onTcp);
    try {
      await new Promise<void>((res, rej) => {
        tcp.once("error", rej);
        tcp.listen({ port: chosen, host, exclusive: true }, () => {
          tcp.off("error", rej);
          res();
        });
      });
      return { udp, tcp };
    } catch (err) {
      lastError = err;
      await new Promise<void>((res) => udp.close(() => res()));
    }
  }
  throw new ZoneServerError(
    `cannot bind UDP+TCP on ${host}:${port}: ${(lastError as Error)?.message ?? lastError}`,
    "ERR_ZONE_SERVER_BIND",
  );
}
