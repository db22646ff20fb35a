// Preloaded (`node --expose-gc -r`) into the dns-eds server a benchmark starts, and nothing else: on
// SIGUSR2 it runs a full GC and writes one line "BENCH-MEM {json of process.memoryUsage()}" to stderr,
// so memory per stream is measured after garbage is gone, without any hook in the product.
process.on("SIGUSR2", () => {
  if (typeof globalThis.gc === "function") globalThis.gc();
  process.stderr.write(`BENCH-MEM ${JSON.stringify(process.memoryUsage())}\n`);
});
