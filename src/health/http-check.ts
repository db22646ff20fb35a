/**
 * HTTP(S) GET health check: healthy when the response status is one of the expected ones
 * (default 200..399). Another status is a hard failure. HTTPS does not verify the certificate: checks
 * go to IP literals, which rarely match a certificate, and the question is liveness, not identity.
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { fail, hostPort, type Probe, type ProbeResult, settleOnce, socketFailure } from "./probe.js";

const defaultOk = (status: number): boolean => status >= 200 && status < 400;

export const httpProbe: Probe = (target, spec, signal) =>
  new Promise<ProbeResult>((resolve) => {
    if (signal.aborted) return resolve(fail("ERR_HEALTH_ABORTED", "aborted before start"));
    const path = spec.path ?? "/";
    const request = spec.type === "https" ? httpsRequest : httpRequest;
    const req = request({
      host: target.address,
      port: target.port,
      path: path.startsWith("/") ? path : `/${path}`,
      method: "GET",
      // One connection per probe: no pooled sockets held open across thousands of endpoints.
      agent: false,
      headers: { host: hostPort(target), "user-agent": "dns-eds-health", connection: "close" },
      rejectUnauthorized: false,
    });
    const finish = settleOnce(
      resolve,
      signal,
      spec.timeoutMs,
      `no response within ${spec.timeoutMs} ms`,
      () => req.destroy(),
    );
    req.once("response", (res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      const ok = spec.expectedStatuses?.length ? spec.expectedStatuses.includes(status) : defaultOk(status);
      finish(ok ? { ok: true } : fail("ERR_HEALTH_STATUS", `HTTP ${status} for GET ${path}`));
    });
    req.once("error", (err: NodeJS.ErrnoException) => finish(socketFailure(err)));
    req.end();
  });
