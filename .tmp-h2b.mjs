import * as grpc from "@grpc/grpc-js";
import net from "node:net";
const server = new grpc.Server({ "grpc.max_connection_idle_ms": 30000 });
const inj = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
const srv = net.createServer((s) => { inj.injectConnection(s); setTimeout(() => { console.log("destroying", s.destroyed); s.destroy(); console.log("after", s.destroyed, s._handle); }, 300); });
srv.listen(0, "127.0.0.1", () => {
  const port = srv.address().port;
  const t0 = Date.now();
  const c = net.connect(port, "127.0.0.1");
  c.on("data", (d) => console.log("client data", d.length));
  c.on("end", () => console.log("client end", Date.now() - t0));
  c.on("close", () => { console.log("client close", Date.now() - t0); process.exit(0); });
  setTimeout(() => { console.log("no close after 2s"); process.exit(1); }, 2000);
});
