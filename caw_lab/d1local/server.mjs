// Starts Miniflare with worker.mjs on 127.0.0.1 and prints "READY <port>" once it serves.
// Stop it with SIGTERM: disposing lets workerd release its port (SIGKILL would not); it
// also stops by itself when the process that started it is gone.
import { Miniflare } from "miniflare";
import { fileURLToPath } from "node:url";

// Arguments: port (0 = any free one), persistence directory, comma-separated database ids.
// The token comes in the environment (CAW_D1_LOCAL_TOKEN), never on the command line, which
// every user of the machine can read; it is removed before workerd is started.
const [port = "0", persist = ".caw/d1", ids = "local"] = process.argv.slice(2);
const token = process.env.CAW_D1_LOCAL_TOKEN ?? "";
delete process.env.CAW_D1_LOCAL_TOKEN;
const databases = Object.fromEntries(ids.split(",").map((id) => [`DB_${id}`, id]));
const mf = new Miniflare({
  host: "127.0.0.1",
  port: Number(port),
  modules: true,
  scriptPath: fileURLToPath(new URL("./worker.mjs", import.meta.url)),
  d1Databases: databases,
  d1Persist: persist,
  bindings: { TOKEN: token },
  cf: false,
});
const url = await mf.ready;
console.log(`READY ${url.port}`);

// Stopping runs once, however many signals and parent checks ask for it. Disposing can hang
// on a loaded machine; past STOP_WITHIN_MS the whole process group (this process leads it,
// workerd is in it) is killed instead, so nothing outlives the stop.
const STOP_WITHIN_MS = 5000;
let stopping = null;
function stop() {
  stopping ??= (async () => {
    setTimeout(() => process.kill(-process.pid, "SIGKILL"), STOP_WITHIN_MS).unref();
    await mf.dispose();
    process.exit(0);
  })();
  return stopping;
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

// The server lives as long as the process that started it: a `caw d1 local` killed with
// SIGKILL leaves no server behind (its parent then becomes another process).
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) stop();
}, 1000).unref();
