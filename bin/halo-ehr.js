#!/usr/bin/env node
// Entry point. An installed package runs the compiled JavaScript in dist/. A source checkout (src/ is
// there) runs the sources through tsx, a devDependency, so development and tests never run a dist/
// older than the sources; HALO_EHR_COMPILED=1 runs dist/ there too, as does a checkout without tsx.
import { existsSync } from "node:fs";

const source = new URL("../src/cli/main.ts", import.meta.url);
const tsx =
  existsSync(source) && process.env.HALO_EHR_COMPILED !== "1" ? await import("tsx/esm/api").catch(() => null) : null;
if (tsx) {
  tsx.register();
  await import(source.href);
} else await import(new URL("../dist/cli/main.js", import.meta.url).href);
