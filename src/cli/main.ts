// The halo-ehr command line: one subcommand per pipeline stage, plus `demo` that runs them all.
// Exit status: 0 when the command produced what it was asked for; 1 when it stopped on an error or a
// bad option and produced nothing (every command throws rather than write an empty or partial
// result); 128 + the signal's number when a signal ended it (130 for Ctrl-C, 143 for SIGTERM), after
// training saved its last checkpoint, and never leaving a torn output or a temporary behind.
import { Command, CommanderError } from "commander";
import { describeFsError, removeTemporaries } from "../io/atomic.ts";
import { registerBenchmark } from "./benchmark.ts";
import { registerDemo } from "./demo.ts";
import { registerEvaluate } from "./evaluate.ts";
import { registerGenerate } from "./generate.ts";
import { registerIngest } from "./ingest.ts";
import { registerTrain } from "./train.ts";

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };
for (const [signal, code] of Object.entries(SIGNAL_EXIT)) {
  process.on(signal, () => {
    // A command that handles the signal itself has its own listener (training saves, then stops).
    if (process.listenerCount(signal) > 1) return;
    removeTemporaries();
    process.stderr.write(`\nhalo-ehr: stopped by ${signal}; earlier results are left as they were.\n`);
    process.exit(code);
  });
}

const program = new Command()
  .name("halo-ehr")
  .description("Privacy-preserving synthetic electronic health records with HALO.")
  .version("0.1.0")
  .showHelpAfterError()
  .exitOverride();

registerIngest(program);
registerTrain(program);
registerGenerate(program);
registerEvaluate(program);
registerBenchmark(program);
registerDemo(program);

/** A system error (ENOSPC, EACCES, ...) that escaped a command, in words, with its path. */
function plainSystemError(err: Error): Error {
  const e = err as NodeJS.ErrnoException;
  if (typeof e.code !== "string" || typeof e.path !== "string") return err;
  const described = describeFsError(
    err,
    e.path,
    e.syscall === "open" || e.syscall === undefined ? "open it" : e.syscall,
  );
  return described === err ? err : described;
}

try {
  await program.parseAsync(process.argv);
} catch (caught) {
  if (caught instanceof CommanderError) process.exit(caught.exitCode);
  const err = caught instanceof Error ? plainSystemError(caught) : caught;
  // User-facing errors carry their own message (file, line, field, hint); a stack trace helps no user.
  const message = err instanceof Error ? err.message : String(err);
  console.error(`halo-ehr: ${message}`);
  if (process.env.HALO_EHR_DEBUG === "1" && caught instanceof Error) console.error(caught.stack);
  // Input problems are plain Errors or IngestErrors with their own hint; these names mean a bug.
  else if (!(err instanceof Error) || ["TypeError", "ReferenceError", "SyntaxError"].includes(err.name))
    console.error(
      "(this looks like a bug in halo-ehr: set HALO_EHR_DEBUG=1 to see where it happened, and please report it)",
    );
  removeTemporaries();
  process.exit(1);
}
