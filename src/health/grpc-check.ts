/**
 * gRPC health check (`grpc.health.v1.Health/Check` with a service name). The two messages have one
 * field each, so they are encoded by hand instead of loading the proto. One channel per endpoint is
 * kept between probes (a new HTTP/2 connection per probe would cost thousands of handshakes a second
 * at scale) and closed when the endpoint is released.
 */
import {
  type ChannelOptions,
  Client,
  credentials,
  status as GrpcStatus,
  Metadata,
  type ServiceError,
} from "@grpc/grpc-js";
import { fail, hostPort, type Probe, type ProbeResult, type ProbeTarget } from "./probe.js";
import { expectedServerName, identityCheck, isTlsFailure, probeTlsMaterial } from "./probe-tls.js";
import { systemRootCertificates } from "./system-roots.js";
import type { HealthCheckSpec } from "./types.js";

const METHOD = "/grpc.health.v1.Health/Check";

/** HealthCheckRequest { string service = 1; } */
export function encodeHealthRequest(service: string): Buffer {
  const body = Buffer.from(service, "utf8");
  if (body.length === 0) return Buffer.alloc(0);
  const len: number[] = [];
  let n = body.length;
  while (n > 0x7f) {
    len.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  len.push(n);
  return Buffer.concat([Buffer.from([0x0a, ...len]), body]);
}

/** HealthCheckResponse { ServingStatus status = 1; } → status number (0 UNKNOWN, 1 SERVING, 2 NOT_SERVING, 3 SERVICE_UNKNOWN). */
export function decodeHealthResponse(buf: Buffer): number {
  let i = 0;
  let status = 0;
  const varint = (): number => {
    let v = 0;
    let shift = 0;
    for (let k = 0; k < 10; k++) {
      const b = buf[i++];
      if (b === undefined) throw new Error("truncated varint");
      v += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return v;
      shift += 7;
    }
    throw new Error("varint too long");
  };
  while (i < buf.length) {
    const tag = varint();
    const wire = tag & 7;
    if (tag === 0x08) status = varint();
    else if (wire === 0) varint();
    else if (wire === 2) {
      // Read the length before moving i: `i += varint()` would add to the stale i.
      const n = varint();
      i += n;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
  if (i > buf.length) throw new Error("truncated field");
  return status;
}

const SERVING = 1;
const names = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"];

export interface GrpcProber {
  probe: Probe;
  /** Closes the channel kept for an endpoint that is no longer checked. */
  release(target: ProbeTarget): void;
  close(): void;
}

export function createGrpcProber(options: { reconnectBackoffMs?: number } = {}): GrpcProber {
  /** One channel per endpoint, with the transport settings (plaintext or TLS material) it was made for. */
  const clients = new Map<string, { transport: string; client: Client }>();
  const backoff = options.reconnectBackoffMs ?? 1000;
  const clientFor = (target: ProbeTarget, spec: HealthCheckSpec): Client => {
    const key = hostPort(target);
    // Short reconnect backoff: a restarted backend must be seen within about one interval, not after
    // grpc-js's default backoff of up to two minutes.
    const opts: ChannelOptions = {
      "grpc.initial_reconnect_backoff_ms": backoff,
      "grpc.max_reconnect_backoff_ms": backoff,
      "grpc.enable_retries": 0,
    };
    let transport = "plaintext";
    let creds = credentials.createInsecure();
    if (spec.tls) {
      const m = probeTlsMaterial(spec.tls);
      const name = expectedServerName(target, spec.tls);
      transport = `${m.id}|${name}`;
      const have = clients.get(key);
      if (have?.transport === transport) return have.client;
      creds = credentials.createSsl(m.ca ?? systemRootCertificates(), m.key ?? null, m.cert ?? null, {
        ...(m.verify ? { checkServerIdentity: identityCheck(name) } : { rejectUnauthorized: false }),
      });
      // SNI carries host names only; an IP identity is checked by checkServerIdentity above.
      if (!/^[0-9.]+$|:/.test(name)) opts["grpc.ssl_target_name_override"] = name;
    }
    const have = clients.get(key);
    if (have?.transport === transport) return have.client;
    have?.client.close();
    const client = new Client(key, creds, opts);
    clients.set(key, { transport, client });
    return client;
  };

  const probe: Probe = (target, spec, signal) =>
    new Promise<ProbeResult>((resolve) => {
      if (signal.aborted) return resolve(fail("ERR_HEALTH_ABORTED", "aborted before start"));
      let client: Client;
      try {
        client = clientFor(target, spec);
      } catch (e) {
        return resolve(fail("ERR_HEALTH_TLS", `cannot set up TLS for the check: ${(e as Error).message}`));
      }
      let settled = false;
      const finish = (r: ProbeResult): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener("abort", onAbort);
        resolve(r);
      };
      const call = client.makeUnaryRequest(
        METHOD,
        (s: string) => encodeHealthRequest(s),
        (b: Buffer) => b,
        spec.grpcService ?? "",
        new Metadata(),
        { deadline: Date.now() + spec.timeoutMs },
        (err: ServiceError | null, value?: Buffer) => {
          if (err) {
            if (err.code === GrpcStatus.DEADLINE_EXCEEDED)
              return finish(fail("ERR_HEALTH_TIMEOUT", err.details));
            if (err.code === GrpcStatus.CANCELLED) return finish(fail("ERR_HEALTH_ABORTED", err.details));
            // UNAVAILABLE is a refused/reset connection; UNIMPLEMENTED/NOT_FOUND: the server answered "no".
            if (err.code === GrpcStatus.UNAVAILABLE && spec.tls && isTlsFailure(err.details))
              return finish(fail("ERR_HEALTH_TLS", err.details));
            if (err.code === GrpcStatus.UNAVAILABLE) return finish(fail("ERR_HEALTH_REFUSED", err.details));
            if (err.code === GrpcStatus.UNIMPLEMENTED || err.code === GrpcStatus.NOT_FOUND)
              return finish(fail("ERR_HEALTH_NOT_SERVING", `${GrpcStatus[err.code]}: ${err.details}`));
            return finish(fail("ERR_HEALTH_PROTOCOL", `${GrpcStatus[err.code]}: ${err.details}`));
          }
          let st: number;
          try {
            st = decodeHealthResponse(value ?? Buffer.alloc(0));
          } catch (e) {
            return finish(fail("ERR_HEALTH_PROTOCOL", (e as Error).message));
          }
          finish(st === SERVING ? { ok: true } : fail("ERR_HEALTH_NOT_SERVING", names[st] ?? `status ${st}`));
        },
      );
      const onAbort = (): void => call.cancel();
      signal.addEventListener("abort", onAbort, { once: true });
    });

  return {
    probe,
    release(target) {
      const key = hostPort(target);
      clients.get(key)?.client.close();
      clients.delete(key);
    },
    close() {
      for (const c of clients.values()) c.client.close();
      clients.clear();
    },
  };
}
