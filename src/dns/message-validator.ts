/**
 * Decides whether a reply answers our query (RFC 5452 §9 and what c-ares/unbound check): decoded
 * strictly (wire-decoder.ts), QR set, opcode QUERY, the query's ID, exactly one question equal to ours
 * (name, type, class IN; name compared case-sensitively when 0x20 is on). The source address and port are
 * checked by the transport. A reply that fails is rejected with a reason and the wait continues.
 */
import { CLASS_IN, type DecodeFailure, decodeMessage, type WireMessage } from "./wire-decoder.js";

export type RejectReason =
  | DecodeFailure
  | "empty"
  | "not-response"
  | "bad-opcode"
  | "id-mismatch"
  | "question-count"
  | "question-name"
  | "question-case"
  | "question-type"
  | "question-class"
  | "wrong-source"
  | "tcp-framing"
  | "rebinding";

export interface ExpectedReply {
  id: number;
  /** Name exactly as sent (with trailing dot). */
  wireName: string;
  /** Numeric query type. */
  type: number;
  /** Compare the question name case-sensitively (0x20 over UDP). */
  caseSensitive: boolean;
}

export type Verdict = { ok: true; msg: WireMessage } | { ok: false; reason: RejectReason };

function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) | 0x20));
}

export function validateReply(buf: Uint8Array, exp: ExpectedReply): Verdict {
  if (buf.length === 0) return { ok: false, reason: "empty" };
  // Cheap header checks first: a spoofer's wrong ID costs no full decode.
  if (buf.length >= 12) {
    if ((((buf[0] as number) << 8) | (buf[1] as number)) !== exp.id)
      return { ok: false, reason: "id-mismatch" };
    if (((buf[2] as number) & 0x80) === 0) return { ok: false, reason: "not-response" };
  }
  const d = decodeMessage(buf);
  if (!d.ok) return d;
  const m = d.msg;
  if (m.opcode !== 0) return { ok: false, reason: "bad-opcode" };
  if (m.questions.length !== 1) return { ok: false, reason: "question-count" };
  const q = m.questions[0] as (typeof m.questions)[0];
  if (q.type !== exp.type) return { ok: false, reason: "question-type" };
  if (q.class !== CLASS_IN) return { ok: false, reason: "question-class" };
  if (q.rawName !== exp.wireName) {
    if (exp.caseSensitive || asciiLower(q.rawName) !== asciiLower(exp.wireName)) {
      return {
        ok: false,
        reason: asciiLower(q.rawName) === asciiLower(exp.wireName) ? "question-case" : "question-name",
      };
    }
  }
  return { ok: true, msg: m };
}
