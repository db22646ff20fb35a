/**
 * V8 heap settings of the dns-eds process, applied by the binary's entry point (main.ts) before a command
 * runs. Only the binary applies them: a program that embeds dns-eds as a library keeps its own.
 *
 * Allocation-site pretenuring is turned off. dns-eds allocates in bursts of objects that die young: a
 * refresh decodes a DNS reply of a thousand records, a rebuild of a large cluster makes a unit per
 * endpoint. When a scavenge lands inside such a burst, V8 sees nearly every object of that allocation
 * site survive and from then on allocates the site's objects in the old generation ("pretenures" it),
 * for the rest of the process. Their garbage is then collected only by mark-compacts, which cost far
 * more per byte than scavenges. Measured in the W2 fan-out (ten names of 1,000 A records at TTL 1, one
 * 10,000-endpoint cluster pushed to 100 streams, bench/README): over 18 s, 53 MB of allocations outlived
 * the young generation (27 MB of them decoded DNS records, 12 MB builder units), and a mark-compact
 * cycle ran every third round (`--trace-gc`: 17-55 ms of marking steps and a 7-13 ms pause on the main
 * thread, besides concurrent marking), which made those rounds cost 130-170 ms instead of 60-90. With
 * pretenuring off, 15 MB did, and the slow rounds were gone: server CPU per round, p90 85-105 ms against
 * 121-164 ms and medians 0.80-0.94x, three passes each in the same run.
 *
 * Anyone who wants V8's default back passes --allocation-site-pretenuring to node (on its command line or
 * in NODE_OPTIONS): an explicit setting of the flag, either way, is left alone.
 */
import { setFlagsFromString } from "node:v8";

const FLAG = "allocation-site-pretenuring";

/**
 * The V8 flag to set for these node options, or undefined when the user set pretenuring themselves. V8
 * spells a flag with '-' or '_' and negates it with "no" or "no-", so all of those count as the user's.
 */
export function pretenuringFlag(
  execArgv: readonly string[],
  nodeOptions: string | undefined,
): string | undefined {
  const given = [...execArgv, ...(nodeOptions ?? "").split(/\s+/)];
  for (const arg of given) {
    const name = arg.replace(/^--?/, "").split("=")[0]?.replaceAll("_", "-") ?? "";
    if (name === FLAG || name === `no${FLAG}` || name === `no-${FLAG}`) return undefined;
  }
  return `--no-${FLAG}`;
}

/** Applies the settings above to this process. */
export function applyHeapTuning(): void {
  const flag = pretenuringFlag(process.execArgv, process.env.NODE_OPTIONS);
  // Safe after start-up for this flag: V8 reads it at every scavenge, where it decides what to pretenure.
  if (flag !== undefined) setFlagsFromString(flag);
}
