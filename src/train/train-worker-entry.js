// Worker entry point. A worker does not inherit the TypeScript loader the main thread was started
// with (the bin script registers it at run time), so it registers tsx before loading the worker.
import { register } from "tsx/esm/api";

register();
await import("./train-worker.ts");
