/**
 * Parser for the zone files the embedded DNS server serves: a practical subset of the RFC 1035 master
 * format ($ORIGIN, $TTL, SOA, NS, A, AAAA, CNAME, SRV, TXT; relative names, `@`, blank owners,
 * parentheses, comments, TTL units like `1h30m`). Errors carry the line number so an operator editing
 * the demo zone can find the mistake; anything outside the subset is rejected rather than ignored.
 */
import { isIPv4, isIPv6 } from "node:net";

export type ZoneRecordType = "SOA" | "NS" | "A" | "AAAA" | "CNAME" | "SRV" | "TXT";

export interface SoaRdata {
  mname: string;
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}

export interface SrvRdata {
  priority: number;
  weight: number;
  port: number;
  target: string;
}

/** One resource record; names are lower case, absolute, with a trailing dot. */
export type ZoneRecord =
  | { name: string; ttl: number; type: "A" | "AAAA" | "NS" | "CNAME"; data: string }
  | { name: string; ttl: number; type: "SRV"; data: SrvRdata }
  | { name: string; ttl: number; type: "TXT"; data: string[] }
  | { name: string; ttl: number; type: "SOA"; data: SoaRdata };

export interface Zone {
  /** Apex, lower case, absolute with a trailing dot. */
  origin: string;
  soa: { ttl: number; data: SoaRdata };
  records: ZoneRecord[];
}

export class ZoneFileError extends Error {
  readonly code = "ERR_ZONE_FILE";
  constructor(
    message: string,
    /** 1-based line in the zone text, 0 when the problem concerns the whole zone. */
    readonly line: number,
  ) {
    super(line > 0 ? `line ${line}: ${message}` : message);
    this.name = "ZoneFileError";
  }
}

export interface ParseZoneOptions {
  /** Origin used until a `$ORIGIN` line; required unless the file sets `$ORIGIN` first. */
  origin?: string;
  /** TTL used when neither a record nor `$TTL` gives one (defaults to the SOA minimum, RFC 2308 style). */
  defaultTtl?: number;
}

const MAX_TTL = 0x7fffffff;
const TYPES: ReadonlySet<string> = new Set(["SOA", "NS", "A", "AAAA", "CNAME", "SRV", "TXT"]);

export interface Token {
  text: string;
  quoted: boolean;
}

interface Entry {
  line: number;
  /** The entry began with whitespace: the owner is the previous record's owner. */
  blankOwner: boolean;
  tokens: Token[];
}

/** Splits zone text into logical entries, joining parenthesised continuations and dropping comments. */
function tokenize(text: string): Entry[] {
  const entries: Entry[] = [];
  let line = 1;
  let current: Entry | null = null;
  let depth = 0;
  let openLine = 0;
  let i = 0;
  const n = text.length;
  const flush = (): void => {
    if (current && current.tokens.length > 0) entries.push(current);
    current = null;
  };
  const entry = (): Entry => {
    if (!current) current = { line, blankOwner: false, tokens: [] };
    return current;
  };
  while (i < n) {
    const c = text[i] as string;
    if (c === "\n") {
      line++;
      i++;
      if (depth === 0) flush();
      continue;
    }
    if (c === "\r") {
      i++;
      continue;
    }
    if (c === " " || c === "\t") {
      if (!current && depth === 0) {
        // Whitespace at the start of a line means "same owner as before".
        const lineStart = i === 0 || text[i - 1] === "\n";
        if (lineStart) current = { line, blankOwner: true, tokens: [] };
      }
      i++;
      continue;
    }
    if (c === ";") {
      while (i < n && text[i] !== "\n") i++;
      continue;
    }
    if (c === "(") {
      if (depth > 0) throw new ZoneFileError("nested parentheses", line);
      entry();
      depth = 1;
      openLine = line;
      i++;
      continue;
    }
    if (c === ")") {
      if (depth === 0) throw new ZoneFileError("')' without '('", line);
      depth = 0;
      i++;
      continue;
    }
    if (c === '"') {
      const startLine = line;
      let s = "";
      i++;
      for (;;) {
        if (i >= n) throw new ZoneFileError("unterminated quoted string", startLine);
        const d = text[i] as string;
        if (d === '"') {
          i++;
          break;
        }
        if (d === "\n") throw new ZoneFileError("newline inside a quoted string", startLine);
        if (d === "\\") {
          const next = text[i + 1];
          if (next === undefined || next === "\n")
            throw new ZoneFileError("dangling backslash in quoted string", line);
          if (/[0-9]/.test(next)) {
            const digits = text.slice(i + 1, i + 4);
            if (!/^[0-9]{3}$/.test(digits) || Number(digits) > 255)
              throw new ZoneFileError(`bad escape \\${digits}`, line);
            s += String.fromCharCode(Number(digits));
            i += 4;
          } else {
            s += next;
            i += 2;
          }
          continue;
        }
        s += d;
        i++;
      }
      entry().tokens.push({ text: s, quoted: true });
      continue;
    }
    let word = "";
    while (i < n) {
      const d = text[i] as string;
      if (
        d === " " ||
        d === "\t" ||
        d === "\n" ||
        d === "\r" ||
        d === ";" ||
        d === "(" ||
        d === ")" ||
        d === '"'
      )
        break;
      if (d === "\\") throw new ZoneFileError("backslash escapes outside quotes are not supported", line);
      word += d;
      i++;
    }
    entry().tokens.push({ text: word, quoted: false });
  }
  if (depth > 0) throw new ZoneFileError("'(' not closed", openLine);
  flush();
  return entries;
}

/** Parses a TTL: seconds, or BIND units (`1w2d3h4m5s`). */
export function parseTtl(text: string, line: number): number {
  let value: number;
  if (/^[0-9]+$/.test(text)) value = Number(text);
  else if (/^([0-9]+[wdhms])+$/i.test(text)) {
    const unit: Record<string, number> = { w: 604800, d: 86400, h: 3600, m: 60, s: 1 };
    value = 0;
    for (const m of text.toLowerCase().matchAll(/([0-9]+)([wdhms])/g)) {
      value += Number(m[1]) * (unit[m[2] as string] as number);
    }
  } else throw new ZoneFileError(`bad TTL '${text}'`, line);
  if (value > MAX_TTL) throw new ZoneFileError(`TTL ${text} exceeds ${MAX_TTL}`, line);
  return value;
}

// Host names plus leading underscores for SRV owners; no wildcards (the server does not expand them).
const LABEL = /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?$/i;

/** Checks an absolute name's syntax and returns it lower-cased. */
export function checkName(abs: string, line: number): string {
  if (abs === ".") return abs;
  const body = abs.slice(0, -1);
  const labels = body.split(".");
  for (const label of labels) {
    if (label.length === 0) throw new ZoneFileError(`empty label in '${abs}'`, line);
    if (label.length > 63) throw new ZoneFileError(`label longer than 63 bytes in '${abs}'`, line);
    if (!LABEL.test(label)) throw new ZoneFileError(`bad label '${label}' in '${abs}'`, line);
  }
  if (body.length + 2 > 255) throw new ZoneFileError(`name longer than 255 bytes: '${abs}'`, line);
  return abs.toLowerCase();
}

/** Makes a name absolute against `origin` (`@` is the origin itself). */
export function absoluteName(text: string, origin: string, line: number): string {
  if (text === "@") return origin;
  if (text.endsWith(".")) return checkName(text, line);
  return checkName(origin === "." ? `${text}.` : `${text}.${origin}`, line);
}

function u16(text: string, what: string, line: number): number {
  if (!/^[0-9]+$/.test(text) || Number(text) > 65535)
    throw new ZoneFileError(`${what}: expected 0..65535, got '${text}'`, line);
  return Number(text);
}

function u32(text: string, what: string, line: number): number {
  if (!/^[0-9]+$/.test(text) || Number(text) > 0xffffffff)
    throw new ZoneFileError(`${what}: expected 0..4294967295, got '${text}'`, line);
  return Number(text);
}

/**
 * Parses the RDATA of one record in master-file syntax. Exported so the zone server can apply live
 * record updates through the same checks a file gets.
 */
export function parseRdata(type: ZoneRecordType, tokens: readonly Token[], origin: string, line: number) {
  const words = tokens.map((t) => t.text);
  const want = (count: number): void => {
    if (words.length !== count)
      throw new ZoneFileError(`${type} needs ${count} field(s), got ${words.length}`, line);
  };
  switch (type) {
    case "A":
      want(1);
      if (!isIPv4(words[0] as string)) throw new ZoneFileError(`bad IPv4 address '${words[0]}'`, line);
      return words[0] as string;
    case "AAAA":
      want(1);
      if (!isIPv6(words[0] as string)) throw new ZoneFileError(`bad IPv6 address '${words[0]}'`, line);
      return (words[0] as string).toLowerCase();
    case "NS":
    case "CNAME":
      want(1);
      return absoluteName(words[0] as string, origin, line);
    case "SRV":
      want(4);
      return {
        priority: u16(words[0] as string, "SRV priority", line),
        weight: u16(words[1] as string, "SRV weight", line),
        port: u16(words[2] as string, "SRV port", line),
        target: absoluteName(words[3] as string, origin, line),
      } satisfies SrvRdata;
    case "TXT": {
      if (words.length === 0) throw new ZoneFileError("TXT needs at least one string", line);
      for (const w of words) {
        if (Buffer.byteLength(w, "latin1") > 255)
          throw new ZoneFileError("TXT string longer than 255 bytes", line);
      }
      return words;
    }
    case "SOA":
      want(7);
      return {
        mname: absoluteName(words[0] as string, origin, line),
        rname: absoluteName(words[1] as string, origin, line),
        serial: u32(words[2] as string, "SOA serial", line),
        refresh: parseTtl(words[3] as string, line),
        retry: parseTtl(words[4] as string, line),
        expire: parseTtl(words[5] as string, line),
        minimum: parseTtl(words[6] as string, line),
      } satisfies SoaRdata;
  }
}

/** Builds a typed record from parsed RDATA. */
export function makeRecord(name: string, ttl: number, type: ZoneRecordType, data: unknown): ZoneRecord {
  return { name, ttl, type, data } as ZoneRecord;
}

export const isInZone = (name: string, origin: string): boolean =>
  origin === "." || name === origin || name.endsWith(`.${origin}`);

/** Parses zone text into a validated zone. Throws `ZoneFileError` naming the offending line. */
export function parseZoneFile(text: string, options: ParseZoneOptions = {}): Zone {
  let origin = options.origin ? absoluteName(ensureDot(options.origin), ".", 0) : undefined;
  let zoneOrigin: string | undefined;
  let defaultTtl = options.defaultTtl;
  let lastOwner: string | undefined;
  let lastTtl: number | undefined;
  const pending: Array<{
    line: number;
    name: string;
    ttl: number | undefined;
    type: ZoneRecordType;
    data: unknown;
  }> = [];

  for (const e of tokenize(text)) {
    const first = e.tokens[0] as Token;
    if (!e.blankOwner && !first.quoted && first.text.startsWith("$")) {
      const dir = first.text.toUpperCase();
      const arg = e.tokens[1];
      if (dir === "$ORIGIN") {
        if (!arg || e.tokens.length !== 2) throw new ZoneFileError("$ORIGIN needs one name", e.line);
        if (!arg.text.endsWith(".")) {
          if (!origin) throw new ZoneFileError("relative $ORIGIN before any origin is known", e.line);
        }
        origin = absoluteName(arg.text, origin ?? ".", e.line);
        zoneOrigin ??= origin;
      } else if (dir === "$TTL") {
        if (!arg || e.tokens.length !== 2) throw new ZoneFileError("$TTL needs one value", e.line);
        defaultTtl = parseTtl(arg.text, e.line);
      } else {
        throw new ZoneFileError(`unsupported directive ${first.text}`, e.line);
      }
      continue;
    }
    if (!origin) throw new ZoneFileError("record before $ORIGIN (and no origin given)", e.line);
    zoneOrigin ??= origin;

    const toks = [...e.tokens];
    let owner: string;
    if (e.blankOwner) {
      if (!lastOwner) throw new ZoneFileError("record without an owner name", e.line);
      owner = lastOwner;
    } else {
      owner = absoluteName((toks.shift() as Token).text, origin, e.line);
    }
    // TTL and class may come in either order before the type (RFC 1035 §5.1).
    let ttl: number | undefined;
    let sawClass = false;
    for (let k = 0; k < 2; k++) {
      const t = toks[0];
      if (!t || t.quoted) break;
      const up = t.text.toUpperCase();
      if (up === "IN" && !sawClass) {
        sawClass = true;
        toks.shift();
      } else if (ttl === undefined && /^[0-9]/.test(t.text)) {
        ttl = parseTtl(t.text, e.line);
        toks.shift();
      } else if (["CH", "HS", "CS"].includes(up)) {
        throw new ZoneFileError(`class ${t.text} not supported (only IN)`, e.line);
      } else break;
    }
    const typeTok = toks.shift();
    if (!typeTok) throw new ZoneFileError("missing record type", e.line);
    const type = typeTok.text.toUpperCase();
    if (!TYPES.has(type)) throw new ZoneFileError(`unsupported record type '${typeTok.text}'`, e.line);
    const data = parseRdata(type as ZoneRecordType, toks, origin, e.line);
    lastOwner = owner;
    pending.push({ line: e.line, name: owner, ttl, type: type as ZoneRecordType, data });
  }

  if (!zoneOrigin) throw new ZoneFileError("empty zone: no $ORIGIN and no records", 0);
  const soas = pending.filter((r) => r.type === "SOA");
  if (soas.length === 0) throw new ZoneFileError(`zone ${zoneOrigin} has no SOA record`, 0);
  if (soas.length > 1)
    throw new ZoneFileError("more than one SOA record", (soas[1] as { line: number }).line);
  const soaEntry = soas[0] as (typeof pending)[number];
  if (soaEntry.name !== zoneOrigin)
    throw new ZoneFileError(`SOA owner ${soaEntry.name} is not the zone apex ${zoneOrigin}`, soaEntry.line);
  const soaData = soaEntry.data as SoaRdata;
  // Records without a TTL and no $TTL take the previous record's TTL (RFC 1035), else the SOA minimum.
  const lined: LinedRecord[] = [];
  for (const r of pending) {
    const ttl = r.ttl ?? defaultTtl ?? lastTtl ?? soaData.minimum;
    lastTtl = ttl;
    lined.push({ line: r.line, record: makeRecord(r.name, ttl, r.type, r.data) });
  }
  validateRecords(zoneOrigin, lined);
  const records = lined.map((l) => l.record);
  const soaRecord = records.find((r) => r.type === "SOA") as ZoneRecord;
  return { origin: zoneOrigin, soa: { ttl: soaRecord.ttl, data: soaData }, records };
}

export interface LinedRecord {
  line: number;
  record: ZoneRecord;
}

/**
 * Whole-zone rules a record set must keep, for files and live updates alike: every name inside the
 * zone, one SOA at the apex, and CNAME alone at its name (RFC 1034 §3.6.2).
 */
export function validateRecords(origin: string, lined: readonly LinedRecord[]): void {
  const cnameOwners = new Set<string>();
  const owners = new Set<string>();
  let soaCount = 0;
  for (const { line, record: r } of lined) {
    if (!isInZone(r.name, origin))
      throw new ZoneFileError(`name ${r.name} is outside the zone ${origin}`, line);
    if (r.type === "SOA" && ++soaCount > 1) throw new ZoneFileError("more than one SOA record", line);
    if (r.type === "CNAME") {
      if (cnameOwners.has(r.name)) throw new ZoneFileError(`more than one CNAME at ${r.name}`, line);
      if (owners.has(r.name)) throw new ZoneFileError(`CNAME at ${r.name} next to other data`, line);
      if (r.name === origin) throw new ZoneFileError("CNAME at the zone apex", line);
      cnameOwners.add(r.name);
    } else {
      if (cnameOwners.has(r.name)) throw new ZoneFileError(`${r.type} at ${r.name} next to a CNAME`, line);
      owners.add(r.name);
    }
  }
  if (soaCount === 0) throw new ZoneFileError(`zone ${origin} has no SOA record`, 0);
}

/** Tokenises one RDATA string (as in a zone file line) for `parseRdata`. */
export function tokenizeRdata(text: string): Token[] {
  const entries = tokenize(`x ${text}`);
  if (entries.length !== 1) throw new ZoneFileError(`bad record data '${text}'`, 0);
  return (entries[0] as Entry).tokens.slice(1);
}

function ensureDot(name: string): string {
  return name.endsWith(".") ? name : `${name}.`;
}
