// A proxyless gRPC client in its own process (so a test can SIGSTOP it): @grpc/grpc-js-xds with the
// bootstrap in argv[2], one channel per xds:/// target in argv[3..], each asked to connect, which
// makes the client watch LDS → RDS → CDS → EDS for it. Exits when its stdin closes (the test ended).
import * as grpc from "@grpc/grpc-js";
import * as grpcXds from "@grpc/grpc-js-xds";

process.env.GRPC_XDS_BOOTSTRAP_CONFIG = process.argv[2];
grpcXds.register();
const clients = process.argv
  .slice(3)
  .map((t) => new grpc.Client(`xds:///${t}`, grpc.credentials.createInsecure()));
const poke = () => {
  for (const c of clients) c.getChannel().getConnectivityState(true);
};
poke();
// A channel that failed to connect goes back to IDLE; asking again keeps its watches alive.
setInterval(poke, 500);
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
process.stdout.write("started\n");
