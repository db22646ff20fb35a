/**
 * The xDS port's transport as configured: TLS credentials that follow their files (rotation without a
 * restart), and what the operator must know about it. Plaintext on an address other than loopback
 * serves every cluster's topology to anyone who can reach the port; that is allowed (e.g. inside a
 * mesh that encrypts for us) but never silent: it is a loud warning at start and a note in `/readyz`.
 */
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { ReadinessCheck } from "../admin/readiness.js";
import type { DnsEdsConfig } from "../config/config-types.js";
import { parseHostPort } from "../dns/host-port.js";
import { CertificateFiles } from "../xds/certificate-files.js";

export interface XdsTransport {
  credentials: grpc.ServerCredentials;
  /** Undefined when plaintext. */
  files: CertificateFiles | undefined;
  /** One line: plaintext / TLS / mTLS, and authorization. */
  summary: string;
  /** True when the port is plaintext and reachable from beyond this host. */
  exposedPlaintext: boolean;
  stop(): void;
}

export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

export async function startXdsTransport(
  config: DnsEdsConfig,
  log: Logger,
  onReload?: (outcome: "applied" | "rejected") => void,
): Promise<XdsTransport> {
  const tls = config.xds.tls;
  const hp = parseHostPort(config.xds.listen, { allowPortZero: true });
  const loopback = hp.ok && isLoopbackHost(hp.value.host);
  if (!tls) {
    const exposedPlaintext = !loopback;
    const summary = exposedPlaintext
      ? `PLAINTEXT on ${config.xds.listen}: anyone who can reach this port can read every cluster and claim any node (set xds.tls with caFile, and xds.authorization)`
      : `plaintext on loopback (${config.xds.listen})`;
    if (exposedPlaintext) log.warn({ listen: config.xds.listen }, `xDS ${summary}`);
    return {
      credentials: grpc.ServerCredentials.createInsecure(),
      files: undefined,
      summary,
      exposedPlaintext,
      stop() {},
    };
  }
  const files = (
    await CertificateFiles.load(
      {
        certFile: tls.certFile,
        keyFile: tls.keyFile,
        ...(tls.caFile !== undefined ? { caFile: tls.caFile } : {}),
      },
      { intervalMs: tls.reloadIntervalMs, logger: log, ...(onReload ? { onReload } : {}) },
    )
  ).start();
  const rules = config.xds.authorization?.rules.length ?? 0;
  const summary =
    tls.caFile === undefined
      ? "TLS without client certificates: any client may connect and read every cluster"
      : rules > 0
        ? `mTLS with authorization (${rules} rule${rules === 1 ? "" : "s"})`
        : "mTLS without authorization: any client with a certificate from the CA may read every cluster";
  if (tls.caFile === undefined) log.warn(`xDS ${summary}`);
  return {
    credentials: files.credentials(),
    files,
    summary,
    exposedPlaintext: false,
    stop: () => files.stop(),
  };
}

/** Always ready; its reason says what the transport is, so `/readyz` shows plaintext exposure. */
export function transportReadiness(t: XdsTransport): ReadinessCheck {
  return { name: "xds-transport", check: () => ({ ok: true, reason: t.summary }) };
}
