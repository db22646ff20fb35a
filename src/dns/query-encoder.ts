/**
 * Builds query messages with dns-packet: one question, RD set, EDNS0 OPT advertising a 1232-byte UDP
 * payload (the DNS flag day 2020 value that avoids IP fragmentation). Names must already be validated
 * (name-validation.ts): dns-packet's encoder does not check them.
 */
import dnsPacket from "dns-packet";
import type { RecordType } from "./types.js";

export const EDNS_UDP_PAYLOAD = 1232;

export const RECORD_TYPE_CODES: Readonly<Record<RecordType, number>> = { A: 1, AAAA: 28, SRV: 33, TXT: 16 };

export interface QuerySpec {
  id: number;
  /** Name as it goes on the wire (0x20 case applied), with or without trailing dot. */
  name: string;
  type: RecordType;
  /** EDNS UDP payload size to advertise; 0 sends no OPT record. */
  ednsUdpSize?: number;
}

export function encodeQuery(q: QuerySpec): Buffer {
  const edns = q.ednsUdpSize ?? EDNS_UDP_PAYLOAD;
  return dnsPacket.encode({
    type: "query",
    id: q.id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: q.type, name: q.name, class: "IN" }],
    ...(edns > 0
      ? { additionals: [{ type: "OPT", name: ".", udpPayloadSize: edns } as dnsPacket.Answer] }
      : {}),
  });
}
