/**
 * The seam through which transports get sockets, so tests can observe or replace them (e.g. count
 * source ports, inject send errors) without touching transport logic.
 */
import dgram from "node:dgram";
import net from "node:net";

export interface SocketFactory {
  udp(type: "udp4" | "udp6"): dgram.Socket;
  tcp(opts: { host: string; port: number }): net.Socket;
}

export const defaultSocketFactory: SocketFactory = {
  udp: (type) => dgram.createSocket({ type }),
  tcp: (opts) => net.connect({ host: opts.host, port: opts.port }),
};
