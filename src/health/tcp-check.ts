/** TCP connect health check: healthy when a connection to address:port completes within the timeout. */
import { connect } from "node:net";
import { fail, type Probe, type ProbeResult, socketFailure } from "./probe.js";

export const tcpProbe: Probe = (target, spec, signal) =>
  new Promise<ProbeResult>((resolve) => {
    if (signal.aborted) return resolve(fail("ERR_HEALTH_ABORTED", "aborted before start"));
    const socket = connect({ host: target.address, port: target.port });
    let settled = false;
    const finish = (r: ProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      socket.destroy();
      resolve(r);
    };
    const onAbort = (): void => finish(fail("ERR_HEALTH_ABORTED", "aborted"));
    const timer = setTimeout(
      () => finish(fail("ERR_HEALTH_TIMEOUT", `no connect within ${spec.timeoutMs} ms`)),
      spec.timeoutMs,
    );
    signal.addEventListener("abort", onAbort, { once: true });
    socket.once("connect", () => finish({ ok: true }));
    socket.once("error", (err: NodeJS.ErrnoException) => finish(socketFailure(err)));
  });
