/**
 * The DNS-rebinding guard: decides whether an address that came out of DNS (or out of etcd, which holds
 * DNS answers) may become an endpoint and a health-check target. Built in, on by default: loopback,
 * unspecified, link-local (which holds the cloud metadata services), the other known metadata addresses,
 * multicast and broadcast — also when written as IPv6 with an IPv4 address inside (IPv4-mapped,
 * IPv4-compatible, NAT64, 6to4), because the kernel or a gateway turns those into the IPv4 address.
 * Private ranges (10/8, 172.16/12, 192.168/16, fc00::/7) stay allowed: backends live there. Loopback
 * alone can be allowed (the demo, tests, a deliberate sidecar); operators can deny more ranges.
 */
import net from "node:net";
import { DnsError } from "./dns-error.js";

/** Why an address is denied; bounded, so it can be a metric label. */
export type GuardCategory =
  | "loopback"
  | "unspecified"
  | "link-local"
  | "metadata"
  | "multicast"
  | "broadcast"
  | "denied-range";

export interface AddressGuardOptions {
  /** Allow 127.0.0.0/8 and ::1 (and their IPv4-in-IPv6 forms). Default false. */
  allowLoopback?: boolean;
  /** More CIDR ranges to deny, e.g. `10.99.0.0/16`. */
  denyRanges?: readonly string[];
  /** The built-in set above; false leaves only `denyRanges` (the resolver's optional filter). Default true. */
  builtIn?: boolean;
  /** Addresses per memo generation (see `expect`). Default 1,024. */
  generation?: number;
}

/** Cloud metadata services (169.254.x.x ones are link-local anyway, but named for what they are). */
const METADATA_V4_TEXT = ["169.254.169.254", "169.254.170.2", "100.100.100.200", "192.0.0.192"];
/** AWS IMDS over IPv6 (inside fc00::/7, which stays allowed otherwise). */
const METADATA_V6 = new Set(["fd00:ec2:0:0:0:0:0:254"]);

/** IPv4 dotted quad → 32-bit number, or undefined. One pass, no allocation: it runs per endpoint. */
function v4Number(address: string): number | undefined {
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i <= address.length; i++) {
    const c = i === address.length ? 0x2e : address.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || part > 255) return undefined;
      n = n * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 0x30 && c <= 0x39 && digits < 3) {
      part = part * 10 + (c - 0x30);
      digits++;
    } else return undefined;
  }
  return dots === 4 ? n : undefined;
}

const METADATA_V4 = new Set(METADATA_V4_TEXT.map((t) => v4Number(t) as number));

const v4Text = (n: number): string => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;

/** IPv6 text → eight 16-bit words, or undefined. Accepts `::` and a trailing dotted quad. */
export function ipv6Words(address: string): number[] | undefined {
  if (net.isIPv6(address) === false) return undefined;
  let text = address.toLowerCase();
  const zone = text.indexOf("%");
  if (zone >= 0) text = text.slice(0, zone);
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(":");
  const lastPart = text.slice(lastColon + 1);
  if (lastPart.includes(".")) {
    const n = v4Number(lastPart);
    if (n === undefined) return undefined;
    tail = [n >>> 16, n & 0xffff];
    text = text.slice(0, lastColon + 1);
    // `::1.2.3.4` leaves "::"; `::ffff:1.2.3.4` leaves "::ffff:" → drop the dangling colon.
    if (text.endsWith(":") && !text.endsWith("::")) text = text.slice(0, -1);
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parse = (s: string): number[] =>
    s === "" ? [] : s.split(":").map((h) => (h === "" ? Number.NaN : Number.parseInt(h, 16)));
  const head = parse(halves[0] ?? "");
  const rest = halves.length === 2 ? parse(halves[1] ?? "") : [];
  const given = head.length + rest.length + tail.length;
  const fill = halves.length === 2 ? 8 - given : 0;
  if (fill < 0) return undefined;
  const words = [...head, ...new Array<number>(fill).fill(0), ...rest, ...tail];
  if (words.length !== 8 || words.some((w) => !(w >= 0 && w <= 0xffff))) return undefined;
  return words;
}

/**
 * The IPv4 address an IPv6 address stands for, when it embeds one that routing may reach: IPv4-mapped
 * `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d` (deprecated, still parsed by stacks), NAT64
 * `64:ff9b::a.b.c.d` and `64:ff9b:1::/48`, and 6to4 `2002:AABB:CCDD::/48`.
 */
export function embeddedIpv4(words: readonly number[]): number | undefined {
  const w = (i: number): number => words[i] ?? 0;
  const v4At = (hi: number): number => ((w(hi) << 16) >>> 0) + w(hi + 1);
  const zeros = (from: number, to: number): boolean => {
    for (let i = from; i < to; i++) if (w(i) !== 0) return false;
    return true;
  };
  if (zeros(0, 5) && w(5) === 0xffff) return v4At(6);
  if (zeros(0, 6) && (w(6) !== 0 || w(7) > 1)) return v4At(6);
  if (w(0) === 0x64 && w(1) === 0xff9b && zeros(2, 6)) return v4At(6);
  if (w(0) === 0x64 && w(1) === 0xff9b && w(2) === 1) return v4At(6);
  if (w(0) === 0x2002) return v4At(1);
  return undefined;
}

/** The IPv4 address inside an IPv6 one (mapped, compatible, NAT64, 6to4), as text; for messages. */
export function embeddedIpv4Text(address: string): string | undefined {
  const words = net.isIPv6(address) ? ipv6Words(address) : undefined;
  const v4 = words ? embeddedIpv4(words) : undefined;
  return v4 === undefined ? undefined : v4Text(v4);
}

function v4Category(n: number, allowLoopback: boolean): GuardCategory | undefined {
  const a = n >>> 24;
  if (METADATA_V4.has(n)) return "metadata";
  if (a === 0) return "unspecified";
  if (a === 127) return allowLoopback ? undefined : "loopback";
  if (a === 169 && ((n >>> 16) & 255) === 254) return "link-local";
  if (a >= 224 && a <= 239) return "multicast";
  if (n === 0xffffffff) return "broadcast";
  return undefined;
}

function v6Category(words: readonly number[], allowLoopback: boolean): GuardCategory | undefined {
  const text = words.map((x) => x.toString(16)).join(":");
  if (METADATA_V6.has(text)) return "metadata";
  if (words.every((x) => x === 0)) return "unspecified";
  if (words.slice(0, 7).every((x) => x === 0) && words[7] === 1)
    return allowLoopback ? undefined : "loopback";
  const w0 = words[0] ?? 0;
  if ((w0 & 0xffc0) === 0xfe80) return "link-local";
  if ((w0 & 0xff00) === 0xff00) return "multicast";
  const v4 = embeddedIpv4(words);
  return v4 === undefined ? undefined : v4Category(v4, allowLoopback);
}

/**
 * The memo keeps two generations: a lookup found in the older one is carried into the recent one, and
 * when the recent one is full the older one is dropped. So what a cluster keeps listing stays
 * remembered across rebuilds, while addresses DNS stopped returning age out after two generations. One
 * map cleared at a high mark held up to that mark of dead addresses for as long as a zone kept
 * churning (the 30-minute soak: 100,000 strings held by a 1,000-endpoint cluster).
 */
const DEFAULT_GENERATION = 1024;
/**
 * Smallest generation `expect` sets. Small, because every cluster has its own guard: at 1,024 a fleet of
 * 100 ten-address clusters under churn still filled 200,000 entries (the second soak's heap grew
 * 13 % before it levelled off); classifying a handful of addresses again after a rotation costs nothing.
 */
const MIN_GENERATION = 32;

export class AddressGuard {
  private recent = new Map<string, GuardCategory | null>();
  private older = new Map<string, GuardCategory | null>();
  private generation: number;
  private readonly allowLoopback: boolean;
  private readonly builtIn: boolean;
  private readonly ranges: net.BlockList | undefined;

  constructor(opts: AddressGuardOptions = {}) {
    this.allowLoopback = opts.allowLoopback ?? false;
    this.builtIn = opts.builtIn ?? true;
    this.generation = Math.max(1, opts.generation ?? DEFAULT_GENERATION);
    const ranges = opts.denyRanges ?? [];
    if (ranges.length > 0) {
      const list = new net.BlockList();
      for (const cidr of ranges) {
        const [addr, lenText] = cidr.split("/");
        const fam = net.isIP(addr ?? "");
        const len = lenText === undefined ? (fam === 6 ? 128 : 32) : Number(lenText);
        if (fam === 0 || !Number.isInteger(len) || len < 0 || len > (fam === 6 ? 128 : 32)) {
          throw new DnsError("ERR_DNS_BAD_CONFIG", `bad rebinding-guard range ${JSON.stringify(cidr)}`);
        }
        list.addSubnet(addr as string, len, fam === 6 ? "ipv6" : "ipv4");
      }
      this.ranges = list;
    }
  }

  /**
   * Sizes a generation for a screen of `count` addresses (twice that, at least 32), so one rebuild
   * of a large cluster never rotates its own addresses out halfway through.
   */
  expect(count: number): void {
    this.generation = Math.max(MIN_GENERATION, 2 * count);
  }

  /** How many addresses the memo holds now (both generations). */
  get remembered(): number {
    return this.recent.size + this.older.size;
  }

  /** Why `address` must not be used, or undefined when it may. Anything not an IP literal is denied. */
  check(address: string): GuardCategory | undefined {
    const hit = this.recent.get(address);
    if (hit !== undefined) return hit ?? undefined;
    let c: GuardCategory | null | undefined = this.older.get(address);
    if (c === undefined) c = this.classify(address) ?? null;
    if (this.recent.size >= this.generation) {
      this.older = this.recent;
      this.recent = new Map();
    }
    this.recent.set(address, c);
    return c ?? undefined;
  }

  private classify(address: string): GuardCategory | undefined {
    const fam = net.isIP(address);
    if (fam === 4) {
      const n = v4Number(address);
      if (n === undefined) return "denied-range";
      const c = this.builtIn ? v4Category(n, this.allowLoopback) : undefined;
      if (c) return c;
      return this.ranges?.check(address, "ipv4") ? "denied-range" : undefined;
    }
    if (fam === 6) {
      const words = ipv6Words(address);
      if (!words) return "denied-range";
      const c = this.builtIn ? v6Category(words, this.allowLoopback) : undefined;
      if (c) return c;
      if (!this.ranges) return undefined;
      if (this.ranges.check(address, "ipv6")) return "denied-range";
      const v4 = embeddedIpv4(words);
      return v4 !== undefined && this.ranges.check(v4Text(v4), "ipv4") ? "denied-range" : undefined;
    }
    return "denied-range";
  }

  allows(address: string): boolean {
    return this.check(address) === undefined;
  }
}
