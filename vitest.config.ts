import { defineConfig } from "vitest/config";

// Tests start real servers (etcd, named, gRPC backends) on loopback; a 2-core box runs two files at once.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 30_000,
    hookTimeout: 60_000,
    teardownTimeout: 20_000,
  },
});
