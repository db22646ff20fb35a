// Endpoint sets of the whole-process xDS workloads, shared by dns-eds (as A records on BIND), the floor and
// the go-control-plane peer (as "ip:port/hostname" lists), so all three serve the same assignment: dns-eds
// gives every endpoint its DNS name as `Endpoint.hostname` (as Envoy's own DNS clusters do), so the peers
// are given that name to send too (named.mjs `hosted`) and every server writes the same bytes. Addresses are
// loopback (127.0.0.0/8): nothing ever connects to them, and benches use no other range. One address
// per change is a marker (127.200.x.y) that only the new content holds, so a load client can tell a
// stream has the change by finding it in the bytes it received.
export const PORT = 8080;

/** Bytes of SocketAddress.address (field 2) holding `ip`, as hex: unique per address in encoded CLAs. */
export function markerHex(ip) {
  return Buffer.concat([Buffer.from([0x12, ip.length]), Buffer.from(ip)]).toString("hex");
}

export const markerIp = (seq) => `127.200.${(seq >> 8) & 255}.${seq & 255}`;

/** `count` fixed addresses of block `block` (127.<block>.x.y), then the marker of `seq`. */
export function endpoints(block, count, seq) {
  const out = [];
  for (let i = 0; i < count - 1; i++) out.push(`127.${block}.${(i >> 8) & 255}.${i & 255}:${PORT}`);
  out.push(`${markerIp(seq)}:${PORT}`);
  return out;
}

/** One "ip:port[/hostname]" entry's parts. */
export function endpointParts(e) {
  const slash = e.indexOf("/");
  const hostPort = slash < 0 ? e : e.slice(0, slash);
  const colon = hostPort.lastIndexOf(":");
  return {
    address: hostPort.slice(0, colon),
    port: Number(hostPort.slice(colon + 1)),
    hostname: slash < 0 ? "" : e.slice(slash + 1),
  };
}

/** Strips ports and hostnames: the addresses a DNS name carries. */
export const ipsOf = (eps) => eps.map((e) => endpointParts(e).address);
