// The few protobuf wire pieces the benches' hand-rolled xDS peers need (the load clients and the floor
// server write requests and read responses without a generated codec, so their own CPU stays small):
// ADS method paths, a varint and a length-delimited field. One copy, shared by every bench peer.
export const ADS_SOTW = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources";
export const ADS_DELTA = "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources";

/** An unsigned varint. */
export function varint(n) {
  const out = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}

/** A length-delimited field (wire type 2) holding `bytes`. */
export function lengthDelimited(field, bytes) {
  return Buffer.concat([varint((field << 3) | 2), varint(bytes.length), bytes]);
}

/** A string field. */
export function str(field, s) {
  return lengthDelimited(field, Buffer.from(s));
}
