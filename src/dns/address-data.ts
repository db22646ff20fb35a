/**
 * A and AAAA RDATA as numbers, with the text made only when read. A refresh of a large name whose records
 * did not change never needs their text (the unchanged check compares numbers: unchanged-records.ts), so
 * the decoder no longer makes a string per record; `address` makes it on first read and keeps it. The
 * numbers are 16-bit groups, not 32-bit words: V8 keeps integers of up to 31 bits in the object itself
 * but boxes larger ones, so a 32-bit word of most addresses would cost an allocation per record again.
 * Text → numbers is here too, for records that exist only as text (held answers, the etcd tier).
 */

/** Dotted-quad text of an IPv4 address given as its high and low 16 bits. */
export function formatIpv4(hi: number, lo: number): string {
  return `${hi >>> 8}.${hi & 0xff}.${lo >>> 8}.${lo & 0xff}`;
}

/**
 * Where RFC 5952 puts "::" in the eight groups at `groups[at..at+7]`: the first longest run of two or more
 * zero groups, or start −1 when there is none. The formatter writes it there and the parser accepts it only
 * there, so both ask this one function.
 */
function zeroRun(groups: ArrayLike<number>, at: number): { start: number; len: number } {
  let start = -1;
  let len = 1;
  for (let i = 0; i < 8; ) {
    if (groups[at + i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[at + j] === 0) j++;
    if (j - i > len) {
      start = i;
      len = j - i;
    }
    i = j;
  }
  return { start, len };
}

/** RFC 5952 text form of an IPv6 address given as its eight 16-bit groups. */
export function formatIpv6Words(words: readonly number[]): string {
  const { start, len } = zeroRun(words, 0);
  if (start < 0) return words.map((w) => w.toString(16)).join(":");
  const head = words.slice(0, start).map((w) => w.toString(16));
  const tail = words.slice(start + len).map((w) => w.toString(16));
  // Embedded IPv4 forms (::ffff:a.b.c.d) are printed as hex words; both are valid inputs to net.
  return `${head.join(":")}::${tail.join(":")}`;
}

/** An A record's RDATA: the address as its high and low 16 bits. */
export class Ipv4Data {
  readonly kind = "A";
  private text: string | undefined;

  constructor(
    /** First two octets, as a 16-bit number. */
    readonly hi: number,
    /** Last two octets, as a 16-bit number. */
    readonly lo: number,
    text?: string,
  ) {
    this.text = text;
  }

  /** Dotted-quad text, made on first read. */
  get address(): string {
    if (this.text === undefined) this.text = formatIpv4(this.hi, this.lo);
    return this.text;
  }

  /**
   * The address of `text` when it is exactly the text the decoder would make of it, else undefined: a
   * record held in another spelling was never equal to a decoded one.
   */
  static fromText(text: string): Ipv4Data | undefined {
    const v = parseIpv4(text);
    return v < 0 ? undefined : new Ipv4Data(v >>> 16, v & 0xffff, text);
  }
}

/** An AAAA record's RDATA: the address as its eight 16-bit groups, in order. */
export class Ipv6Data {
  readonly kind = "AAAA";
  private text: string | undefined;

  constructor(
    readonly w0: number,
    readonly w1: number,
    readonly w2: number,
    readonly w3: number,
    readonly w4: number,
    readonly w5: number,
    readonly w6: number,
    readonly w7: number,
    text?: string,
  ) {
    this.text = text;
  }

  /** RFC 5952 text (formatIpv6Words), made on first read. */
  get address(): string {
    if (this.text === undefined) {
      this.text = formatIpv6Words([this.w0, this.w1, this.w2, this.w3, this.w4, this.w5, this.w6, this.w7]);
    }
    return this.text;
  }

  /**
   * The address of `text` when it is exactly the RFC 5952 text the decoder would make of it, else
   * undefined: a record held in another spelling was never equal to a decoded one.
   */
  static fromText(text: string): Ipv6Data | undefined {
    const w = new Uint16Array(8);
    return parseIpv6(text, w, 0) ? Ipv6Data.fromGroups(w, 0, text) : undefined;
  }

  /** The address whose eight groups are `groups[at..at+7]`. */
  static fromGroups(groups: ArrayLike<number>, at: number, text?: string): Ipv6Data {
    const g = (i: number) => groups[at + i] as number;
    return new Ipv6Data(g(0), g(1), g(2), g(3), g(4), g(5), g(6), g(7), text);
  }
}

/*
 * Text → numbers, accepting only the spelling formatIpv4 / formatIpv6Words make: the numbers are compared
 * where the text used to be, so a text the decoder never makes (leading zeros, upper case, "::" in the
 * wrong place, a dotted IPv4 tail, a zone) must not become an address that matches a decoded one. They
 * scan characters rather than split and re-format, as a held array of a thousand records is read at once.
 */

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;

/** The 32-bit value of a dotted-quad text as formatIpv4 makes it, or −1 for anything else. */
export function parseIpv4(text: string): number {
  // Plain records (etcd, the cache codec) are typed, not checked: a non-string is no address.
  if (typeof text !== "string") return -1;
  const len = text.length;
  let v = 0;
  let i = 0;
  for (let octet = 0; ; octet++) {
    const start = i;
    let o = 0;
    while (i < len && isDigit(text.charCodeAt(i)) && i - start < 3) o = o * 10 + text.charCodeAt(i++) - 0x30;
    if (i === start || o > 255 || (i - start > 1 && text.charCodeAt(start) === 0x30)) return -1;
    v = v * 256 + o;
    if (octet === 3) return i === len ? v : -1;
    if (text.charCodeAt(i) !== 0x2e) return -1;
    i++;
  }
}

/** A lower-case hex digit's value, or −1. */
function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}

/**
 * Writes the eight groups of an IPv6 text as formatIpv6Words makes it to out[off..off+7]; false (out
 * partly written) for anything else.
 */
export function parseIpv6(text: string, out: Uint16Array, off: number): boolean {
  if (typeof text !== "string") return false;
  const len = text.length;
  let n = 0;
  // Groups before the "::", or −1 without one.
  let gapAt = -1;
  let i = 0;
  if (text.charCodeAt(0) === 0x3a) {
    if (text.charCodeAt(1) !== 0x3a) return false;
    gapAt = 0;
    i = 2;
  }
  while (i < len) {
    const start = i;
    let g = 0;
    for (let d = hexDigit(text.charCodeAt(i)); d >= 0 && i - start < 4; d = hexDigit(text.charCodeAt(++i))) {
      g = g * 16 + d;
    }
    if (i === start || (i - start > 1 && text.charCodeAt(start) === 0x30) || n === 8) return false;
    out[off + n++] = g;
    if (i === len) break;
    if (text.charCodeAt(i) !== 0x3a) return false;
    i++;
    if (text.charCodeAt(i) === 0x3a) {
      if (gapAt >= 0) return false;
      gapAt = n;
      i++;
    } else if (i === len) {
      return false;
    }
  }
  if (gapAt < 0 ? n !== 8 : n > 7) return false;
  const gap = 8 - n;
  if (gapAt >= 0) {
    // The groups after the "::" move to the end; the gap is zeros.
    out.copyWithin(off + gapAt + gap, off + gapAt, off + n);
    out.fill(0, off + gapAt, off + gapAt + gap);
  }
  // formatIpv6Words writes "::" for the first longest run of ≥ 2 zero groups, and only there.
  const run = zeroRun(out, off);
  return gapAt < 0 ? run.start < 0 : run.start === gapAt && run.len === gap;
}
