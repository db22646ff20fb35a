/**
 * Test helper: real X.509 certificates made at test time with `openssl` (Debian's), in a folder under
 * .tmp/: a CA, and leaf certificates it signs with the SANs a test needs (SPIFFE URI, DNS, IP). EC P-256,
 * valid for two days.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "./private-build.js";

const run = promisify(execFile);

export interface Pem {
  certFile: string;
  keyFile: string;
  cert: Buffer;
  key: Buffer;
}

export interface LeafSpec {
  uris?: string[];
  dns?: string[];
  ips?: string[];
}

export class TestCerts {
  readonly dir: string;

  constructor(prefix = "certs-") {
    mkdirSync(join(repoRoot, ".tmp"), { recursive: true });
    this.dir = mkdtempSync(join(repoRoot, ".tmp", prefix));
  }

  /** A self-signed CA named `name`. */
  async ca(name: string): Promise<Pem> {
    const keyFile = join(this.dir, `${name}.key`);
    const certFile = join(this.dir, `${name}.crt`);
    await openssl([
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      keyFile,
      "-out",
      certFile,
      "-days",
      "2",
      "-subj",
      `/CN=${name}`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    return read(certFile, keyFile);
  }

  /** A certificate for `name` signed by `ca`, with the given SANs, usable for both TLS ends. */
  async leaf(ca: Pem, name: string, spec: LeafSpec): Promise<Pem> {
    const keyFile = join(this.dir, `${name}.key`);
    const csrFile = join(this.dir, `${name}.csr`);
    const certFile = join(this.dir, `${name}.crt`);
    const extFile = join(this.dir, `${name}.ext`);
    const sans = [
      ...(spec.uris ?? []).map((u) => `URI:${u}`),
      ...(spec.dns ?? []).map((d) => `DNS:${d}`),
      ...(spec.ips ?? []).map((i) => `IP:${i}`),
    ];
    writeFileSync(
      extFile,
      [
        "basicConstraints=CA:FALSE",
        "keyUsage=critical,digitalSignature",
        "extendedKeyUsage=serverAuth,clientAuth",
        ...(sans.length > 0 ? [`subjectAltName=${sans.join(",")}`] : []),
        "",
      ].join("\n"),
    );
    await openssl([
      "req",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      keyFile,
      "-out",
      csrFile,
      "-subj",
      `/CN=${name}`,
    ]);
    await openssl([
      "x509",
      "-req",
      "-in",
      csrFile,
      "-CA",
      ca.certFile,
      "-CAkey",
      ca.keyFile,
      "-CAcreateserial",
      "-out",
      certFile,
      "-days",
      "2",
      "-extfile",
      extFile,
    ]);
    return read(certFile, keyFile);
  }

  /** Writes `content` to a file in the folder (e.g. a CA bundle) and returns its path. */
  file(name: string, content: Buffer | string): string {
    const path = join(this.dir, name);
    writeFileSync(path, content);
    return path;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run("openssl", args);
  } catch (e) {
    throw new Error(
      `openssl ${args.slice(0, 2).join(" ")} failed: ${(e as { stderr?: string }).stderr ?? e}`,
    );
  }
}

function read(certFile: string, keyFile: string): Pem {
  return { certFile, keyFile, cert: readFileSync(certFile), key: readFileSync(keyFile) };
}
