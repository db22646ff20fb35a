// Config and admin costs an operator feels: how long loading/validating a config of N clusters takes
// (start-up and every SIGHUP reload), against plain YAML parsing of the same text as the baseline; and
// how long a /metrics scrape takes with N clusters' endpoint gauges, against JSON-encoding the same
// cluster view. Imports the built dist/ (npm run build first).
import { cpus } from "node:os";
import { performance } from "node:perf_hooks";
import { parse } from "yaml";
import { createMetrics } from "../dist/admin/metrics.js";
import { parseConfigText } from "../dist/config/load-config.js";

const cpu = cpus();
console.log(`machine: ${cpu[0]?.model ?? "unknown"} × ${cpu.length} cores, node ${process.version}`);

function configText(n) {
  const lines = [
    'dns: { servers: ["10.0.0.2:53", "[fd00::2]:53"] }',
    "healthDefaults: { type: grpc }",
    "clusters:",
  ];
  for (let i = 0; i < n; i++) {
    if (i % 3 === 0) {
      lines.push(
        `  - name: svc-${i}`,
        `    dns: { name: svc-${i}.ns.svc.example.com, port: 8080 }`,
        "    healthCheck: {}",
      );
    } else if (i % 3 === 1) {
      lines.push(
        `  - name: svc-${i}`,
        `    srv: { name: _grpc._tcp.svc-${i}.example.com }`,
        "    grpcListener: true",
      );
    } else {
      lines.push(
        `  - name: svc-${i}`,
        "    zoneAware: true",
        "    sources:",
        `      - dns: { name: svc-${i}.eu-1a.example.com, port: 443 }`,
        "        locality: { region: eu, zone: eu-1a }",
        "        metadata: { version: v2 }",
        `      - dns: { name: svc-${i}.eu-1b.example.com, port: 443 }`,
        "        locality: { region: eu, zone: eu-1b }",
      );
    }
  }
  return `${lines.join("\n")}\n`;
}

/** Median wall time of `fn` over `runs` runs, after one warm-up, bounded by `budgetMs`. */
function median(fn, runs, budgetMs = 5_000) {
  fn();
  const times = [];
  const start = performance.now();
  for (let i = 0; i < runs && performance.now() - start < budgetMs; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

async function medianAsync(fn, runs, budgetMs = 5_000) {
  await fn();
  const times = [];
  const start = performance.now();
  for (let i = 0; i < runs && performance.now() - start < budgetMs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const results = { configLoad: [], metricsScrape: [] };
for (const n of [100, 1_000, 3_000]) {
  const text = configText(n);
  const runs = n >= 1_000 ? 5 : 15;
  const yamlOnly = median(() => parse(text), runs);
  const full = median(() => parseConfigText(text, { readResolvConf: () => undefined }), runs);
  results.configLoad.push({
    clusters: n,
    bytes: text.length,
    yamlParseMs: +yamlOnly.toFixed(2),
    loadAndValidateMs: +full.toFixed(2),
    ratioToYamlParse: +(full / yamlOnly).toFixed(2),
  });
}

for (const n of [100, 1_000, 5_000]) {
  const health = ["HEALTHY", "HEALTHY", "HEALTHY", "UNHEALTHY", "DRAINING"];
  const clusters = Array.from({ length: n }, (_, i) => ({
    name: `svc-${i}`,
    endpoints: Array.from({ length: 10 }, (_, j) => ({
      address: `127.0.${i % 250}.${j}`,
      port: 8080,
      health: health[j % 5],
    })),
  }));
  const metrics = createMetrics({ processMetrics: false });
  metrics.observeClusters(() => clusters);
  const scrape = await medianAsync(() => metrics.registry.metrics(), 10);
  const json = median(() => JSON.stringify(clusters), 10);
  const body = await metrics.registry.metrics();
  results.metricsScrape.push({
    clusters: n,
    series: n * 4,
    bodyBytes: body.length,
    scrapeMs: +scrape.toFixed(2),
    jsonOfSameViewMs: +json.toFixed(2),
    ratioToJson: +(scrape / json).toFixed(2),
  });
}
console.log(JSON.stringify(results, null, 2));
