/**
 * Draining a replica's xDS connections gradually: each client connection gets an HTTP/2 GOAWAY and its
 * streams end with UNAVAILABLE at its own moment within a window, so clients reconnect (to another
 * replica, since this one reports not-ready) a few at a time instead of all at once.
 *
 * grpc-js has no public per-connection close; its Server keeps the HTTP/2 sessions privately, in a set
 * per listening HTTP/2 server (`http2Servers`, always) and, with channelz on, in a `sessions` map too
 * (the xDS server runs with channelz off). `serverSessions` reads and checks them, so a grpc-js upgrade
 * that changes them fails loudly (ERR_XDS_SERVER_STATE) instead of silently draining nothing.
 */
import type { ServerHttp2Session } from "node:http2";
import type * as grpc from "@grpc/grpc-js";
import { XdsError } from "./errors.js";

/**
 * `n` moments in [0, windowMs): one per equal slot of the window, jittered within its slot, in random
 * order. Unlike n independent uniform draws, no slot ever gets a cluster of reconnections.
 */
export function drainOffsets(n: number, windowMs: number, random: () => number = Math.random): number[] {
  const slots = Array.from({ length: n }, (_, i) => ((i + random()) / n) * windowMs);
  for (let i = slots.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [slots[i], slots[j]] = [slots[j] as number, slots[i] as number];
  }
  return slots;
}

/** The open HTTP/2 sessions (client connections) of a grpc-js server. */
export function serverSessions(server: grpc.Server): ServerHttp2Session[] {
  const listeners = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (listeners instanceof Map && listeners.size > 0) {
    const out: ServerHttp2Session[] = [];
    let shaped = true;
    for (const l of listeners.values()) {
      const set = (l as { sessions?: unknown } | undefined)?.sessions;
      if (set instanceof Set) for (const s of set) out.push(s as ServerHttp2Session);
      else shaped = false;
    }
    if (shaped) return out;
  }
  const sessions = (server as unknown as { sessions?: unknown }).sessions;
  if (!(sessions instanceof Map))
    throw new XdsError(
      "ERR_XDS_SERVER_STATE",
      "this grpc-js version keeps no sessions map on its Server: per-connection drain is not possible",
    );
  return [...sessions.keys()] as ServerHttp2Session[];
}

/** The peer string of a session, as grpc-js' `call.getPeer()` writes it for the calls on it. */
export function sessionPeer(session: ServerHttp2Session): string | undefined {
  const s = session.socket;
  if (!s?.remoteAddress) return undefined;
  return s.remotePort !== undefined ? `${s.remoteAddress}:${s.remotePort}` : s.remoteAddress;
}

/** Tells the client to open no new streams on this connection, then closes it once its streams ended. */
export function goAway(session: ServerHttp2Session): void {
  if (session.closed || session.destroyed) return;
  try {
    // NO_ERROR with the highest stream id: nothing the client sent is lost, it just goes elsewhere.
    session.goaway(0, 2 ** 31 - 1, Buffer.from("draining"));
    session.close();
  } catch {
    session.destroy();
  }
}
