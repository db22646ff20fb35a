/** TCP connect health check: healthy when a connection to address:port completes within the timeout. */
import { connect } from "node:net";
import { fail, type Probe, type ProbeResult, settleOnce, socketFailure } from "./probe.js";

export const tcpProbe: Probe = (target, spec, signal) =>
  new Promise<ProbeResult>((resolve) => {
    if (signal.aborted) return resolve(fail("ERR_HEALTH_ABORTED", "aborted before start"));
    const socket = connect({ host: target.address, port: target.port });
    const finish = settleOnce(resolve, signal, spec.timeoutMs, `no connect within ${spec.timeoutMs} ms`, () =>
      socket.destroy(),
    );
    socket.once("connect", () => finish({ ok: true }));
    socket.once("error", (err: NodeJS.ErrnoException) => finish(socketFailure(err)));
  });
