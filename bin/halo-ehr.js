#!/usr/bin/env node
// Entry point. The installed package runs the compiled JavaScript in dist/. A source checkout runs
// src/ through tsx (a devDependency) when HALO_EHR_FROM_SOURCE=1 or when dist/ has not been built,
// so tests and development never run a stale build.
import { existsSync } from "node:fs";

const compiled = new URL("../dist/cli/main.js", import.meta.url);
if (process.env.HALO_EHR_FROM_SOURCE !== "1" && existsSync(compiled)) await import(compiled.href);
else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("../src/cli/main.ts");
}
