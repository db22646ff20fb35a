/**
 * The one `send` seam between resolver policy and the network: a Transport sends one query packet to
 * one server and resolves with the first reply that passes validation, or rejects with a DnsError
 * (timeout, network, aborted). Rejected replies are reported through `onReject` and do not end the wait.
 */
import type { ExpectedReply, RejectReason } from "./message-validator.js";
import type { ServerAddress } from "./server-address.js";
import type { WireMessage } from "./wire-decoder.js";

export interface ExchangeRequest {
  server: ServerAddress;
  packet: Uint8Array;
  expected: ExpectedReply;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  onReject?: ((reason: RejectReason) => void) | undefined;
}

export interface Transport {
  exchange(req: ExchangeRequest): Promise<WireMessage>;
  close(): Promise<void>;
}
