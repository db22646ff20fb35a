// A TCP port on 127.0.0.1 that is free right now (the caller binds it soon after; a race is unlikely on a
// bench box and shows as a bind error, not a wrong figure).
import { createServer } from "node:net";

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
