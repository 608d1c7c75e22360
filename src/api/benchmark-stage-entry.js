// Entry point of a benchmark stage's child process. Like the worker entries, it cannot count on the
// parent's TypeScript loader: in the compiled package (dist/) the compiled stage sits beside this file;
// in a source checkout (src/, tests) only the .ts exists, and tsx is registered first to load it.
import { existsSync } from "node:fs";

if (existsSync(new URL("./benchmark-stage.js", import.meta.url))) await import("./benchmark-stage.js");
else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("./benchmark-stage.ts");
}
