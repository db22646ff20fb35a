/** The etcd test helper itself: a member restarts on its data, a 3-member cluster elects a new leader. */
import { afterAll, describe, expect, it } from "vitest";
import { type EtcdServer, startEtcd } from "../support/etcd-server.js";

describe("etcd test helper", () => {
  const started: EtcdServer[] = [];
  afterAll(async () => {
    await Promise.all(started.map((s) => s.close()));
  });

  it("runs one member that keeps its data across a restart", async () => {
    const etcd = await startEtcd();
    started.push(etcd);
    const m = etcd.members[0];
    if (!m) throw new Error("no member");
    const before = await m.status();
    expect(before?.memberId).toBe(before?.leader);
    await m.stop();
    expect(m.running()).toBe(false);
    await m.start();
    expect((await m.status())?.memberId).toBe(before?.memberId);
  });

  it("elects a new leader in a 3-member cluster after the leader is killed", async () => {
    const cluster = await startEtcd({ members: 3 });
    started.push(cluster);
    const leader = await cluster.leader();
    await leader.kill();
    const next = await cluster.leader();
    expect(next.name).not.toBe(leader.name);
  });
});
