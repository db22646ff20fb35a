// Builds test/peers/grpc-go-client (a proxyless grpc-go xDS client the test/grpc-go suite runs) into
// .tmp/tools/grpc-go-client/. The grpc-go version is pinned in its go.mod (google.golang.org/grpc
// v1.85.0); how it is built and stamped: lib/go-peer.mjs.
import { buildGoPeer } from "./lib/go-peer.mjs";

export async function ensure() {
  buildGoPeer({
    name: "grpc-go-client",
    label: "grpc-go xDS client",
    coldBuild: "a cold build fetches modules and compiles grpc-go: 1–3 min",
  });
}
