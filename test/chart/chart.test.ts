/**
 * The Helm chart (charts/dns-eds), linted (`helm lint --strict`) and rendered with the real helm (built from helm.sh/helm/v3 v3.22.0 by the
 * test prerequisites) for the default values and for ci/full-values.yaml (every option on). Each rendered
 * object must decode strictly into its real API type (test/peers/k8s-strict-decode over k8s.io/api
 * v0.37.2 and prometheus-operator's ServiceMonitor: an unknown or misplaced field fails), and each
 * rendered dns-eds config must pass `dns-eds validate`, with the Secret files it names present where
 * the Deployment mounts them. Then what an operator relies on: replicas and anti-affinity, probes on
 * /healthz and /readyz, a termination grace that covers the drain, the PDB and Services selecting the
 * pods, scrape annotations or a ServiceMonitor on the admin port.
 */
import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
// @ts-expect-error: a plain .mjs module of the test prerequisites (no declarations)
import { toolBin } from "../../scripts/prereqs/k8s-tools.mjs";
import { buildPrivate, repoRoot } from "../support/private-build.js";

const run = promisify(execFile);
const chart = join(repoRoot, "charts", "dns-eds");
const helm = toolBin("helm") as string;
const decoder = toolBin("k8s-strict-decode") as string;
let buildDir: string;
let work: string;

// biome-ignore lint/suspicious/noExplicitAny: rendered Kubernetes objects, checked field by field below
type Obj = any;

beforeAll(async () => {
  for (const bin of [helm, decoder])
    if (!existsSync(bin))
      throw new Error(`${bin} missing: run node scripts/test-prereqs.mjs (npm test does)`);
  buildDir = await buildPrivate("chart-", ["cli/main.ts"]);
  work = mkdtempSync(join(repoRoot, ".tmp", "chart-"));
}, 180_000);

afterAll(() => {
  rmSync(buildDir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

async function render(args: string[]): Promise<string> {
  const { stdout } = await run(helm, ["template", "rel", chart, "--namespace", "mesh", ...args], {
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}

function strictDecode(manifests: string) {
  const r = spawnSync(decoder, [], { input: manifests, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const objects = (manifests: string): Obj[] =>
  parseAllDocuments(manifests)
    .map((d) => d.toJS() as Obj)
    .filter((o) => o !== null);
const byKind = (objs: Obj[], kind: string) => objs.filter((o) => o.kind === kind);

/** Writes the rendered config where the pod has it and each Secret's files where the pod mounts them. */
async function validateRenderedConfig(objs: Obj[], name: string) {
  const cm = byKind(objs, "ConfigMap")[0];
  const deploy = byKind(objs, "Deployment")[0];
  const container = deploy.spec.template.spec.containers[0];
  const configPath: string = container.args[container.args.indexOf("--config") + 1];
  const root = join(work, name);
  // The pod's /etc/dns-eds is this folder: mount paths map one to one.
  const local = (podPath: string) => join(root, podPath.replace(/^\/etc\/dns-eds\//, ""));
  expect(configPath.startsWith("/etc/dns-eds/")).toBe(true);
  const volumes = new Map<string, Obj>(deploy.spec.template.spec.volumes.map((v: Obj) => [v.name, v]));
  for (const m of container.volumeMounts) {
    const v = volumes.get(m.name);
    if (v?.configMap) {
      expect(v.configMap.name).toBe(cm.metadata.name);
      expect(dirname(configPath)).toBe(m.mountPath);
    }
    if (v?.secret) {
      mkdirSync(local(m.mountPath), { recursive: true });
      // A kubernetes.io/tls Secret's keys (plus ca.crt), or the items the volume selects.
      const keys = v.secret.items?.map((i: Obj) => i.path) ?? ["tls.crt", "tls.key", "ca.crt"];
      for (const k of keys) writeFileSync(join(local(m.mountPath), k), "placeholder\n");
    }
  }
  const text: string = cm.data["config.yaml"];
  // Every file the config names lies in a folder the Deployment mounts.
  const config = parse(text) as Obj;
  const files = [
    config.xds?.tls?.certFile,
    config.xds?.tls?.keyFile,
    config.xds?.tls?.caFile,
    config.cache?.etcd?.tls?.caFile,
    config.cache?.etcd?.tls?.certFile,
    config.cache?.etcd?.tls?.keyFile,
    config.cache?.etcd?.auth?.passwordFile,
  ].filter((f): f is string => typeof f === "string");
  const mounts = container.volumeMounts.map((m: Obj) => m.mountPath as string);
  for (const f of files) {
    const inPod = resolve(dirname(configPath), f);
    expect(
      mounts.some((m: string) => inPod.startsWith(`${m}/`)),
      `${f} is under a mount`,
    ).toBe(true);
  }
  mkdirSync(local(dirname(configPath)), { recursive: true });
  writeFileSync(local(configPath), text);
  const r = await run(process.execPath, [
    join(buildDir, "cli", "main.js"),
    "validate",
    "--config",
    local(configPath),
  ]).then(
    (x) => ({ code: 0, stderr: x.stderr }),
    (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
  );
  return { ...r, config, files };
}

describe("charts/dns-eds rendered by helm", () => {
  for (const variant of [
    {
      name: "default values",
      args: [] as string[],
      kinds: ["ConfigMap", "Deployment", "PodDisruptionBudget", "Service", "Service", "ServiceAccount"],
    },
    {
      name: "ci/full-values.yaml",
      args: ["-f", join(chart, "ci", "full-values.yaml")],
      kinds: [
        "ConfigMap",
        "Deployment",
        "PodDisruptionBudget",
        "Service",
        "Service",
        "ServiceAccount",
        "ServiceMonitor",
      ],
    },
  ]) {
    it(`${variant.name}: strict decode into the API types, dns-eds validate, and what operations rely on`, async () => {
      const lint = await run(helm, ["lint", "--strict", chart, ...variant.args]).then(
        (x) => x.stdout,
        (e: { stdout: string }) => `FAILED\n${e.stdout}`,
      );
      expect(lint).toContain("1 chart(s) linted, 0 chart(s) failed");
      const manifests = await render(variant.args);
      const decoded = strictDecode(manifests);
      expect(decoded.stderr).toBe("");
      expect(decoded.code).toBe(0);
      expect(
        decoded.stdout
          .trim()
          .split("\n")
          .map((l) => l.split("/")[0])
          .sort(),
      ).toEqual(variant.kinds);

      const objs = objects(manifests);
      const v = await validateRenderedConfig(objs, variant.name.replace(/\W+/g, "-"));
      expect(v.stderr).toContain("valid");
      expect(v.code).toBe(0);

      const deploy = byKind(objs, "Deployment")[0];
      const pod = deploy.spec.template;
      const container = pod.spec.containers[0];
      const labels = pod.metadata.labels;
      expect(deploy.spec.replicas).toBeGreaterThanOrEqual(2);
      const anti = pod.spec.affinity.podAntiAffinity;
      const term =
        anti.requiredDuringSchedulingIgnoredDuringExecution?.[0] ??
        anti.preferredDuringSchedulingIgnoredDuringExecution?.[0]?.podAffinityTerm;
      expect(term.topologyKey).toBe("kubernetes.io/hostname");
      expect(term.labelSelector.matchLabels).toEqual(deploy.spec.selector.matchLabels);
      expect(container.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "admin" });
      expect(container.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "admin" });
      const adminPort = container.ports.find((p: Obj) => p.name === "admin").containerPort;
      const xdsPort = container.ports.find((p: Obj) => p.name === "xds").containerPort;
      expect(v.config.admin.listen).toBe(`0.0.0.0:${adminPort}`);
      expect(v.config.xds.listen).toBe(`0.0.0.0:${xdsPort}`);
      // The kubelet must not kill a replica before its drain is over.
      const s = v.config.shutdown;
      expect(pod.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(
        s.drainDelayMs + s.drainWindowMs + s.graceMs,
      );
      expect(pod.spec.securityContext.runAsNonRoot).toBe(true);
      expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
      expect(deploy.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);

      const pdb = byKind(objs, "PodDisruptionBudget")[0];
      expect(pdb.spec.selector.matchLabels).toEqual(deploy.spec.selector.matchLabels);
      const services = byKind(objs, "Service");
      for (const svc of services)
        for (const [k, val] of Object.entries(svc.spec.selector)) expect(labels[k]).toBe(val);
      const xdsSvc = services.find((x: Obj) => x.spec.ports[0].name === "xds");
      const adminSvc = services.find((x: Obj) => x.spec.ports[0].name === "admin");
      expect(xdsSvc.spec.ports[0]).toMatchObject({ targetPort: "xds", appProtocol: "grpc" });
      expect(adminSvc.spec.type).toBe("ClusterIP");
      expect(pod.metadata.annotations["prometheus.io/port"]).toBe(String(adminPort));
      const monitor = byKind(objs, "ServiceMonitor")[0];
      if (monitor) {
        expect(monitor.spec.endpoints[0]).toMatchObject({ port: "admin", path: "/metrics" });
        for (const [k, val] of Object.entries(monitor.spec.selector.matchLabels))
          expect(adminSvc.metadata.labels[k]).toBe(val);
      }
      if (variant.name !== "default values") {
        // Secrets: etcd TLS + auth and xDS mTLS are files from Secrets, never inline in the ConfigMap.
        expect(v.files.length).toBe(7);
        expect(v.config.cache.etcd.auth.password).toBeUndefined();
        expect(v.config.xds.tls.caFile).toBeDefined();
      }
    }, 120_000);
  }

  it("fails the checks it claims: an unknown field fails the strict decode, a bad config fails validate", async () => {
    const manifests = await render([]);
    const broken = manifests.replace("readinessProbe:", "readinessProbes:");
    const r = strictDecode(broken);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'Deployment/rel-dns-eds): error unmarshaling JSON: while decoding JSON: json: unknown field "readinessProbes"',
    );

    const bad = objects(await render(["--set", "config.dns.timeoutMs=5"]));
    const v = await validateRenderedConfig(bad, "bad-timeout");
    expect(v.code).toBe(2);
    expect(v.stderr).toContain("dns.timeoutMs: expected an integer 10..60000, got 5");

    const noClusters = await render(["--set", "config.clusters=null"]).then(
      () => "",
      (e: { stderr: string }) => e.stderr,
    );
    expect(noClusters).toContain("config.clusters is required");
  }, 120_000);
});
