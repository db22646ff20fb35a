// What a benchmark reads about another process from /proc: CPU time (all threads, from schedstat in
// nanoseconds, or /proc/<pid>/stat in clock ticks where schedstat is missing) and resident memory. Used to
// charge a whole server process (dns-eds serve, the floor, the go-control-plane peer) for exactly the
// CPU it spent between two instants, without any hook inside it.
import { readdirSync, readFileSync } from "node:fs";

const TICK_MS = 10; // USER_HZ is 100 on Linux x86_64 and arm64.

/** CPU time the process has used so far, in ms (user + system, every thread alive now). */
export function cpuMs(pid) {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const s = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8");
      ns += Number(s.slice(0, s.indexOf(" ")));
    }
    // Threads that exited are not listed any more; server processes here keep theirs for life.
    return ns / 1e6;
  } catch {
    return statCpuMs(pid);
  }
}

/**
 * CPU time so far per thread name (/proc/<pid>/task/<tid>/comm: "node" is the main thread, "V8 Default"
 * workers, "libuv-worker" the thread pool), in ms: where a process's CPU goes besides its JS thread.
 */
export function cpuMsByThread(pid) {
  const out = {};
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      // Node names every thread "node"; the main thread (tid = pid) is the one the V8 profile sees.
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
      const name = Number(tid) === pid ? `${comm}(main)` : comm;
      const s = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8");
      out[name] = (out[name] ?? 0) + Number(s.slice(0, s.indexOf(" "))) / 1e6;
    } catch {
      // A thread that ended between the listing and the read.
    }
  }
  return out;
}

/** utime + stime of /proc/<pid>/stat (includes reaped threads), in ms, 10 ms resolution. */
export function statCpuMs(pid) {
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * TICK_MS;
}

/** Resident set size in KiB (VmRSS of /proc/<pid>/status). */
export function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : Number.NaN;
}
