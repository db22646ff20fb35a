/**
 * The question of a query as the embedded zone server must echo it: its name in presentation form with
 * RFC 1035 §5.1 escapes (a `.` or any odd octet inside a label becomes `\DDD`), and its exact wire
 * bytes. dns-packet reads labels as UTF-8 text and writes names by splitting on `.`, so a label holding a
 * `.` byte (or a byte that is not UTF-8) came back as a different, often undecodable, name. Escaping keeps
 * such a label from ever matching (or impersonating) two labels of a zone name, and echoing the wire bytes
 * keeps the reply's question identical to the query's, as resolvers check.
 */
import { decodeMessage } from "../dns/wire-decoder.js";

export interface QueryQuestion {
  /** Name as received (case kept), escaped, with a trailing dot; "." for the root. */
  name: string;
  /** The question entry re-encoded without compression: name, QTYPE, QCLASS. */
  wire: Buffer;
}

/** Reads the single question of `msg`; undefined if the question section does not parse. */
export function readQueryQuestion(msg: Uint8Array): QueryQuestion | undefined {
  const decoded = decodeMessage(msg, false);
  if (!decoded.ok) return undefined;
  const q = decoded.msg.questions[0];
  if (decoded.msg.questions.length !== 1 || q === undefined) return undefined;
  const name = nameToWire(q.rawName);
  const wire = Buffer.alloc(name.length + 4);
  name.copy(wire, 0);
  wire.writeUInt16BE(q.type, name.length);
  wire.writeUInt16BE(q.class, name.length + 2);
  return { name: q.rawName, wire };
}

/** Wire form of a presentation name whose only escapes are `\DDD` (what the decoder writes). */
function nameToWire(name: string): Buffer {
  const bytes: number[] = [];
  if (name !== ".") {
    for (const label of name.replace(/\.$/, "").split(".")) {
      const out: number[] = [];
      for (let i = 0; i < label.length; i++) {
        if (label[i] === "\\") {
          out.push(Number(label.slice(i + 1, i + 4)));
          i += 3;
        } else {
          out.push(label.charCodeAt(i));
        }
      }
      bytes.push(out.length, ...out);
    }
  }
  bytes.push(0);
  return Buffer.from(bytes);
}
