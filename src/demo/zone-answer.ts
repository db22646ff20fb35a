/**
 * The authoritative answering logic of the embedded DNS server, kept apart from the sockets so each
 * rule (CNAME chasing, NODATA vs NXDOMAIN with the SOA, SRV glue, truncation, EDNS) can be reasoned
 * about on bytes in, bytes out. Input is untrusted: dns-packet decodes much garbage without complaint,
 * so the header and the consumed length are checked before anything is believed.
 */
import * as packet from "dns-packet";
import { readQueryQuestion } from "./query-question.js";
import type { Zone } from "./zone-file.js";
import { isInZone, type ZoneRecord, type ZoneRecordType } from "./zone-file.js";

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

/** Largest UDP response we send regardless of what the client offers (DNS flag day 2020 value). */
export const DEFAULT_MAX_UDP_PAYLOAD = 1232;
const MAX_CNAME_HOPS = 8;

/** A zone prepared for lookups: records by owner, plus every name that exists (incl. empty non-terminals). */
export class ZoneIndex {
  readonly origin: string;
  readonly soa: ZoneRecord & { type: "SOA" };
  private readonly byName = new Map<string, ZoneRecord[]>();
  private readonly nodes = new Set<string>();

  constructor(readonly zone: Zone) {
    this.origin = zone.origin;
    const soa = zone.records.find((r) => r.type === "SOA");
    if (soa?.type !== "SOA") throw new Error("zone without SOA");
    this.soa = soa;
    for (const r of zone.records) {
      let list = this.byName.get(r.name);
      if (!list) {
        list = [];
        this.byName.set(r.name, list);
      }
      list.push(r);
      // Ancestors up to the apex exist as empty non-terminals: they answer NODATA, not NXDOMAIN.
      let n = r.name;
      while (n !== this.origin && !this.nodes.has(n)) {
        this.nodes.add(n);
        const dot = n.indexOf(".");
        if (dot < 0 || dot === n.length - 1) break;
        n = n.slice(dot + 1);
      }
      this.nodes.add(this.origin);
    }
  }

  records(name: string): readonly ZoneRecord[] | undefined {
    return this.byName.get(name);
  }

  exists(name: string): boolean {
    return this.nodes.has(name);
  }

  /** TTL for negative answers: min(SOA TTL, SOA MINIMUM) (RFC 2308 §5). */
  get negativeTtl(): number {
    return Math.min(this.soa.ttl, this.soa.data.minimum);
  }
}

export interface AnswerOptions {
  transport: "udp" | "tcp";
  maxUdpPayload?: number;
}

type Rr = packet.Answer;

function toRr(r: ZoneRecord, ownerSpelling?: string): Rr {
  const name = ownerSpelling ?? r.name;
  switch (r.type) {
    case "TXT":
      return {
        name,
        type: "TXT",
        ttl: r.ttl,
        class: "IN",
        data: r.data.map((s) => Buffer.from(s, "latin1")),
      };
    case "SRV":
      return { name, type: "SRV", ttl: r.ttl, class: "IN", data: r.data };
    case "SOA":
      return { name, type: "SOA", ttl: r.ttl, class: "IN", data: r.data };
    default:
      return { name, type: r.type, ttl: r.ttl, class: "IN", data: r.data };
  }
}

interface Header {
  id: number;
  opcode: number;
  rd: boolean;
}

function reply(
  h: Header,
  rcode: number,
  parts: {
    aa?: boolean;
    tc?: boolean;
    /** The query's question entry in wire form, echoed byte for byte. */
    question?: Buffer;
    answers?: Rr[];
    authorities?: Rr[];
    additionals?: Rr[];
  },
): Buffer {
  let flags = (h.opcode << 11) | (rcode & 0xf);
  if (h.rd) flags |= packet.RECURSION_DESIRED;
  if (parts.aa) flags |= packet.AUTHORITATIVE_ANSWER;
  if (parts.tc) flags |= packet.TRUNCATED_RESPONSE;
  const out = packet.encode({
    type: "response",
    id: h.id,
    flags,
    questions: [],
    answers: parts.answers ?? [],
    authorities: parts.authorities ?? [],
    additionals: parts.additionals ?? [],
  });
  if (!parts.question) return out;
  // dns-packet writes no compression pointers, so the question can be spliced in after the header.
  const withQuestion = Buffer.concat([out.subarray(0, 12), parts.question, out.subarray(12)]);
  withQuestion.writeUInt16BE(1, 4);
  return withQuestion;
}

/**
 * Answers one query message. Returns null when the message must be dropped (too short to answer, or
 * itself a response — answering those invites reflection loops).
 */
export function answerQuery(index: ZoneIndex, msg: Buffer, opts: AnswerOptions): Buffer | null {
  if (msg.length < 12) return null;
  const rawFlags = msg.readUInt16BE(2);
  if (rawFlags & 0x8000) return null;
  const h: Header = { id: msg.readUInt16BE(0), opcode: (rawFlags >> 11) & 0xf, rd: (rawFlags & 0x100) !== 0 };

  let q: packet.DecodedPacket;
  try {
    q = packet.decode(msg);
  } catch {
    return reply(h, RCODE.FORMERR, {});
  }
  // Trailing bytes, counts that do not fit a query, or a question dns-packet could not type: garbage.
  if (packet.decode.bytes !== msg.length) return reply(h, RCODE.FORMERR, {});
  const questions = q.questions ?? [];
  if (questions.length !== 1 || (q.answers?.length ?? 0) > 0 || (q.authorities?.length ?? 0) > 0)
    return reply(h, RCODE.FORMERR, {});
  const question = questions[0] as packet.Question;
  const asked = readQueryQuestion(msg);
  if (!asked) return reply(h, RCODE.FORMERR, {});
  const opts_ = (q.additionals ?? []).filter((a): a is packet.OptAnswer => a.type === "OPT");
  if (opts_.length > 1) return reply(h, RCODE.FORMERR, { question: asked.wire });
  const clientOpt = opts_[0];
  const serverMax = opts.maxUdpPayload ?? DEFAULT_MAX_UDP_PAYLOAD;
  const ourOpt = (extendedRcode = 0): Rr[] =>
    clientOpt
      ? [
          {
            name: ".",
            type: "OPT",
            udpPayloadSize: serverMax,
            extendedRcode,
            ednsVersion: 0,
            flags: 0,
            flag_do: false,
            options: [],
          },
        ]
      : [];

  if (h.opcode !== 0) return reply(h, RCODE.NOTIMP, { question: asked.wire, additionals: ourOpt() });
  // EDNS version we do not speak: BADVERS (16) = extended rcode 1, header rcode 0 (RFC 6891 §6.1.3).
  if (clientOpt && clientOpt.ednsVersion > 0)
    return reply(h, RCODE.NOERROR, { question: asked.wire, additionals: ourOpt(1) });
  if (typeof question.type !== "string" || String(question.type).startsWith("UNKNOWN"))
    return reply(h, RCODE.NOTIMP, { question: asked.wire, additionals: ourOpt() });
  if (question.class !== "IN")
    return reply(h, RCODE.REFUSED, { question: asked.wire, additionals: ourOpt() });
  // dns-packet's typings omit ANY (255), which it does decode.
  const qtype = question.type as string;
  if (qtype === "AXFR" || qtype === "IXFR")
    return reply(h, RCODE.REFUSED, { question: asked.wire, additionals: ourOpt() });

  // Escaped (a `.` inside a label is `\046`), so such a label never matches a zone name.
  const qname = asked.name.toLowerCase();
  if (!isInZone(qname, index.origin))
    return reply(h, RCODE.REFUSED, { question: asked.wire, additionals: ourOpt() });

  const answers: Rr[] = [];
  const authorities: Rr[] = [];
  const additionals: Rr[] = [];
  let rcode: number = RCODE.NOERROR;
  let name = qname;
  const seen = new Set<string>();
  const found: ZoneRecord[] = [];
  for (let hop = 0; hop <= MAX_CNAME_HOPS; hop++) {
    seen.add(name);
    // The asker's spelling (0x20 case) for the owner; an escaped name matches no record, so never needs it.
    const spelling = name === qname && !asked.name.includes("\\") ? asked.name : undefined;
    const rrs = index.records(name);
    if (!rrs) {
      if (!index.exists(name)) rcode = RCODE.NXDOMAIN;
      authorities.push({ ...toRr(index.soa), ttl: index.negativeTtl } as Rr);
      break;
    }
    const match = qtype === "ANY" ? rrs : rrs.filter((r) => r.type === (qtype as ZoneRecordType));
    if (match.length > 0) {
      for (const r of match) answers.push(toRr(r, spelling));
      found.push(...match);
      break;
    }
    const cname = rrs.find((r) => r.type === "CNAME");
    if (cname?.type !== "CNAME") {
      authorities.push({ ...toRr(index.soa), ttl: index.negativeTtl } as Rr);
      break;
    }
    answers.push(toRr(cname, spelling));
    // Outside the zone, or a loop: the resolver continues from the CNAME itself (RFC 1034 §4.3.2).
    if (!isInZone(cname.data, index.origin) || seen.has(cname.data)) break;
    name = cname.data;
  }

  // Glue for SRV and NS targets we are authoritative for saves the client a round trip.
  const glued = new Set<string>();
  for (const r of found) {
    const target = r.type === "SRV" ? r.data.target : r.type === "NS" ? r.data : undefined;
    if (!target || glued.has(target) || !isInZone(target, index.origin)) continue;
    glued.add(target);
    for (const g of index.records(target) ?? []) {
      if (g.type === "A" || g.type === "AAAA") additionals.push(toRr(g));
    }
  }

  const full = reply(h, rcode, {
    aa: true,
    question: asked.wire,
    answers,
    authorities,
    additionals: [...additionals, ...ourOpt()],
  });
  const limit =
    opts.transport === "tcp" ? 65535 : Math.min(serverMax, Math.max(512, clientOpt?.udpPayloadSize ?? 512));
  if (full.length <= limit) return full;
  if (opts.transport === "tcp") return reply(h, RCODE.SERVFAIL, { question: asked.wire });
  // Too big for the client's buffer: TC=1 with the question only, so it retries over TCP (RFC 7766).
  return reply(h, rcode, { aa: true, tc: true, question: asked.wire, additionals: ourOpt() });
}
