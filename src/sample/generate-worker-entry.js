// Worker entry point. A worker does not inherit the TypeScript loader its parent may run under, so:
// in the compiled package (dist/) the compiled worker sits beside this file and loads directly; in a
// source checkout (src/, tests) only the .ts exists, and tsx is registered first to load it.
import { existsSync } from "node:fs";

if (existsSync(new URL("./generate-worker.js", import.meta.url))) await import("./generate-worker.js");
else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("./generate-worker.ts");
}
