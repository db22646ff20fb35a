/**
 * Test helper: a local plaintext TCP listener that forwards each connection over mTLS (ALPN h2) to a
 * server, presenting a client certificate. It stands where Istio's agent stands for proxyless gRPC:
 * @grpc/grpc-js-xds 1.14.1 supports only `insecure` and `google_default` channel credentials for its
 * xDS server, so it cannot present a client certificate itself.
 */
import { createServer, type Server, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";

export interface TlsForwarderOptions {
  targetPort: number;
  targetHost?: string;
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
}

export class TlsForwarder {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(opts: TlsForwarderOptions) {
    this.server = createServer((plain) => {
      const secure = tlsConnect({
        host: opts.targetHost ?? "127.0.0.1",
        port: opts.targetPort,
        cert: opts.cert,
        key: opts.key,
        ca: opts.ca,
        ALPNProtocols: ["h2"],
      });
      this.sockets.add(plain);
      this.sockets.add(secure);
      plain.on("close", () => this.sockets.delete(plain));
      secure.on("close", () => this.sockets.delete(secure));
      plain.on("error", () => secure.destroy());
      secure.on("error", () => plain.destroy());
      plain.on("close", () => secure.destroy());
      secure.on("close", () => plain.destroy());
      plain.pipe(secure);
      secure.pipe(plain);
    });
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    const a = this.server.address();
    this.port = typeof a === "object" && a !== null ? a.port : 0;
    return this.port;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
