import * as grpc from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type DemoBackend,
  EchoClient,
  type EchoClientInstance,
  type HelloReply,
  startBackend,
  startBackends,
} from "../../src/demo/backends.js";

let port: number;
let backends: DemoBackend[];
const clients: grpc.Client[] = [];

function echo(target: string): EchoClientInstance {
  // A private subchannel pool: a connection cached by an earlier client must not hide a stopped server.
  const c = new EchoClient(target, grpc.credentials.createInsecure(), {
    "grpc.use_local_subchannel_pool": 1,
  }) as EchoClientInstance;
  clients.push(c);
  return c;
}

function hello(c: EchoClientInstance): Promise<HelloReply> {
  return new Promise((resolve, reject) =>
    c.hello({ from: "test" }, { deadline: Date.now() + 3000 }, (err, reply) =>
      err ? reject(err) : resolve(reply as HelloReply),
    ),
  );
}

const HealthClient = grpc.makeGenericClientConstructor(healthService, "grpc.health.v1.Health");
function check(target: string, service: string): Promise<{ status: string }> {
  const c = new HealthClient(target, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    check(
      req: object,
      opts: grpc.CallOptions,
      cb: (e: grpc.ServiceError | null, r?: { status: string }) => void,
    ): void;
  };
  clients.push(c);
  return new Promise((resolve, reject) =>
    c.check({ service }, { deadline: Date.now() + 3000 }, (err, r) =>
      err ? reject(err) : resolve(r as { status: string }),
    ),
  );
}

beforeAll(async () => {
  ({ port, backends } = await startBackends([
    { name: "backend-1", hosts: ["127.0.0.1", "::1"] },
    { name: "backend-2", hosts: ["127.0.0.2"] },
  ]));
});
afterAll(async () => {
  for (const c of clients) c.close();
  for (const b of backends ?? []) await b.stop();
});

describe("demo backends", () => {
  it("answer demo.Echo/Hello with their name and the address reached, on every host", async () => {
    expect(await hello(echo(`127.0.0.1:${port}`))).toEqual({
      backend: "backend-1",
      address: `127.0.0.1:${port}`,
    });
    expect(await hello(echo(`[::1]:${port}`))).toEqual({ backend: "backend-1", address: `[::1]:${port}` });
    expect(await hello(echo(`127.0.0.2:${port}`))).toEqual({
      backend: "backend-2",
      address: `127.0.0.2:${port}`,
    });
    expect(backends[0]?.calls.get(`[::1]:${port}`)).toBe(1);
  });

  it("serve grpc.health.v1 and flip it", async () => {
    expect(await check(`127.0.0.2:${port}`, "")).toEqual({ status: "SERVING" });
    backends[1]?.setServing(false);
    expect(await check(`127.0.0.2:${port}`, "")).toEqual({ status: "NOT_SERVING" });
    expect(await check(`127.0.0.2:${port}`, "demo.Echo")).toEqual({ status: "NOT_SERVING" });
    backends[1]?.setServing(true);
    expect(await check(`127.0.0.2:${port}`, "demo.Echo")).toEqual({ status: "SERVING" });
  });

  it("stop refuses connections and start brings the backend back on the same port", async () => {
    const b = backends[1] as DemoBackend;
    await b.stop();
    expect(b.running).toBe(false);
    await expect(hello(echo(`127.0.0.2:${port}`))).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    await b.start();
    expect(await hello(echo(`127.0.0.2:${port}`))).toMatchObject({ backend: "backend-2" });
  });

  it("fails with a stable code when the port is taken", async () => {
    await expect(startBackend({ name: "dup", hosts: ["127.0.0.1"] }, port)).rejects.toMatchObject({
      code: "ERR_BACKEND_BIND",
    });
    await expect(startBackend({ name: "x", hosts: [] }, port)).rejects.toMatchObject({
      code: "ERR_BACKEND_OPTIONS",
    });
  });
});
