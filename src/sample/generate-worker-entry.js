// Worker entry point: a worker does not inherit the TypeScript loader, so it registers tsx first.
import { register } from "tsx/esm/api";

register();
await import("./generate-worker.ts");
