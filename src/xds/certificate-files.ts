/**
 * The xDS port's TLS certificate, key and client CA bundle, read from files and read again when they
 * change, without dropping a connection: new handshakes use the new files, connections already open
 * keep theirs. The files are checked every `intervalMs` (by content: a Kubernetes secret volume swaps
 * a symlink, so watching the file would miss it). A change is applied only once the certificate, key
 * and CA load together (a rotation that has written the certificate but not yet its key is refused, and
 * the previous files keep serving until the next check sees both).
 *
 * This is a grpc-js CertificateProvider, fed to `experimental.createCertificateProviderServerCredentials`,
 * whose server re-creates its secure context on each update.
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createSecureContext } from "node:tls";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import { XdsError } from "./errors.js";

export interface TlsFilePaths {
  certFile: string;
  keyFile: string;
  /** When set, clients must present a certificate signed by one of these CAs. */
  caFile?: string;
}

export interface CertificateFilesOptions {
  /** How often the files are compared with what is in force (default 10 s). */
  intervalMs?: number;
  logger?: Logger;
  onReload?: (outcome: "applied" | "rejected") => void;
  read?: (path: string) => Promise<Buffer>;
}

interface Material {
  cert: Buffer;
  key: Buffer;
  ca: Buffer | undefined;
}

type IdentityListener = grpc.experimental.IdentityCertificateUpdateListener;
type CaListener = grpc.experimental.CaCertificateUpdateListener;

export class CertificateFiles implements grpc.experimental.CertificateProvider {
  private material: Material;
  private readonly identityListeners = new Set<IdentityListener>();
  private readonly caListeners = new Set<CaListener>();
  private timer: NodeJS.Timeout | undefined;
  /** The refused content last logged, so a half-done rotation is logged once, not every interval. */
  private lastRefused = "";
  /** Checks run one after another, each reading the files as they are when it starts. */
  private queue: Promise<unknown> = Promise.resolve();
  private queued = 0;

  private constructor(
    readonly paths: TlsFilePaths,
    initial: Material,
    private readonly opts: CertificateFilesOptions,
  ) {
    this.material = initial;
  }

  /** Reads and checks the files; throws XdsError ERR_XDS_TLS naming the problem. */
  static async load(paths: TlsFilePaths, opts: CertificateFilesOptions = {}): Promise<CertificateFiles> {
    const read = opts.read ?? readFile;
    const m = await readMaterial(paths, read);
    const problem = checkMaterial(m);
    if (problem !== undefined) throw new XdsError("ERR_XDS_TLS", `xds.tls: ${problem}`);
    return new CertificateFiles(paths, m, opts);
  }

  /** Starts checking the files every interval. */
  start(): this {
    if (this.timer === undefined) {
      // A slow disk must not pile up checks: the timer skips while one is queued or running.
      this.timer = setInterval(() => {
        if (this.queued === 0) void this.checkNow();
      }, this.opts.intervalMs ?? 10_000);
      this.timer.unref();
    }
    return this;
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Server credentials that follow these files (client certificates required when caFile is set). */
  credentials(): grpc.ServerCredentials {
    // Positional: (identity provider, CA provider or null, require client certificates). grpc-js 1.14's
    // .d.ts names the first two the other way round; its implementation uses them in this order.
    return grpc.experimental.createCertificateProviderServerCredentials(
      this,
      this.paths.caFile !== undefined ? this : null,
      this.paths.caFile !== undefined,
    );
  }

  /** The certificate in force. */
  certificate(): X509Certificate {
    return new X509Certificate(this.material.cert);
  }

  /** Compares the files with what is in force and applies them when they changed and are valid. */
  checkNow(): Promise<"unchanged" | "applied" | "rejected"> {
    this.queued++;
    const run = this.queue
      .then(() => this.check())
      .finally(() => {
        this.queued--;
      });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async check(): Promise<"unchanged" | "applied" | "rejected"> {
    let m: Material;
    try {
      m = await readMaterial(this.paths, this.opts.read ?? readFile);
    } catch (e) {
      return this.refuse(`cannot read: ${(e as Error).message}`, String((e as Error).message));
    }
    const same =
      m.cert.equals(this.material.cert) &&
      m.key.equals(this.material.key) &&
      (m.ca === undefined ? this.material.ca === undefined : this.material.ca?.equals(m.ca) === true);
    if (same) return "unchanged";
    const problem = checkMaterial(m);
    if (problem !== undefined) {
      return this.refuse(problem, `${m.cert.length}:${m.key.length}:${m.ca?.length}:${problem}`);
    }
    this.material = m;
    this.lastRefused = "";
    for (const l of this.caListeners) l(m.ca ? { caCertificate: m.ca } : null);
    for (const l of this.identityListeners) l({ certificate: m.cert, privateKey: m.key });
    const x = new X509Certificate(m.cert);
    this.opts.logger?.info(
      { subject: x.subject, notAfter: x.validTo, fingerprint: x.fingerprint256 },
      "xds TLS files changed: new connections use the new certificate",
    );
    this.opts.onReload?.("applied");
    return "applied";
  }

  private refuse(problem: string, signature: string): "rejected" {
    if (signature !== this.lastRefused) {
      this.lastRefused = signature;
      this.opts.logger?.error(
        { problem },
        "xds TLS files changed but cannot be used; the previous certificate keeps serving",
      );
      this.opts.onReload?.("rejected");
    }
    return "rejected";
  }

  // grpc-js CertificateProvider. A new listener gets the current material on the next microtask, not
  // within the call: grpc-js subscribes before it registers the server's watcher, so an answer given
  // synchronously would never reach the server (which would then refuse every handshake).
  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    queueMicrotask(() => {
      if (this.identityListeners.has(listener))
        listener({ certificate: this.material.cert, privateKey: this.material.key });
    });
  }
  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }
  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    queueMicrotask(() => {
      if (this.caListeners.has(listener))
        listener(this.material.ca ? { caCertificate: this.material.ca } : null);
    });
  }
  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }
}

async function readMaterial(paths: TlsFilePaths, read: (p: string) => Promise<Buffer>): Promise<Material> {
  const [cert, key, ca] = await Promise.all([
    read(paths.certFile),
    read(paths.keyFile),
    paths.caFile !== undefined ? read(paths.caFile) : Promise.resolve(undefined),
  ]);
  return { cert, key, ca };
}

/** Why these files cannot serve, or undefined. */
function checkMaterial(m: Material): string | undefined {
  try {
    const x = new X509Certificate(m.cert);
    if (!x.checkPrivateKey(createPrivateKey(m.key))) return "keyFile is not the key of certFile";
    createSecureContext({ cert: m.cert, key: m.key, ...(m.ca ? { ca: m.ca } : {}) });
    if (m.ca !== undefined && !m.ca.toString("latin1").includes("-----BEGIN CERTIFICATE-----")) {
      return "caFile holds no PEM certificate";
    }
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}
