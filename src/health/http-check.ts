/**
 * HTTP(S) GET health check: healthy when the response status is one of the expected ones
 * (default 200..399). Another status is a hard failure. HTTPS verifies the backend's certificate by
 * default (probe-tls.ts: `caFile` or Node's CA store, for `serverName`, else the endpoint's DNS name,
 * else its IP), with an optional client certificate; a certificate that does not verify is
 * ERR_HEALTH_TLS. Checks used to skip verification, which let anything answering on the address pass.
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { fail, hostPort, type Probe, type ProbeResult, settleOnce, socketFailure } from "./probe.js";
import { expectedServerName, identityCheck, probeTlsMaterial } from "./probe-tls.js";

const defaultOk = (status: number): boolean => status >= 200 && status < 400;

export const httpProbe: Probe = (target, spec, signal) =>
  new Promise<ProbeResult>((resolve) => {
    if (signal.aborted) return resolve(fail("ERR_HEALTH_ABORTED", "aborted before start"));
    const path = spec.path ?? "/";
    const https = spec.type === "https";
    const request = https ? httpsRequest : httpRequest;
    let tlsOptions = {};
    if (https) {
      let m: ReturnType<typeof probeTlsMaterial>;
      try {
        m = probeTlsMaterial(spec.tls);
      } catch (e) {
        return resolve(fail("ERR_HEALTH_TLS", `cannot read the check's TLS files: ${(e as Error).message}`));
      }
      const name = expectedServerName(target, spec.tls);
      tlsOptions = {
        rejectUnauthorized: m.verify,
        ...(m.ca ? { ca: m.ca } : {}),
        ...(m.cert && m.key ? { cert: m.cert, key: m.key } : {}),
        // SNI only carries host names; the identity check below covers IP addresses too.
        ...(/^[0-9.]+$|:/.test(name) ? {} : { servername: name }),
        checkServerIdentity: identityCheck(name),
      };
    }
    const req = request({
      host: target.address,
      port: target.port,
      path: path.startsWith("/") ? path : `/${path}`,
      method: "GET",
      // One connection per probe: no pooled sockets held open across thousands of endpoints.
      agent: false,
      headers: { host: hostPort(target), "user-agent": "dns-eds-health", connection: "close" },
      ...tlsOptions,
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
