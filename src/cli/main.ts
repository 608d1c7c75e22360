// The halo-ehr command line: one subcommand per pipeline stage, plus `demo` that runs them all.
import { Command, CommanderError } from "commander";
import { registerDemo } from "./demo.ts";
import { registerEvaluate } from "./evaluate.ts";
import { registerGenerate } from "./generate.ts";
import { registerIngest } from "./ingest.ts";
import { registerTrain } from "./train.ts";

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
registerDemo(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  // User-facing errors carry their own message (file, line, field, hint); a stack trace helps no user.
  const message = err instanceof Error ? err.message : String(err);
  console.error(`halo-ehr: ${message}`);
  if (process.env.HALO_EHR_DEBUG === "1" && err instanceof Error) console.error(err.stack);
  // Input problems are plain Errors or IngestErrors with their own hint; these names mean a bug.
  else if (!(err instanceof Error) || ["TypeError", "ReferenceError", "SyntaxError"].includes(err.name))
    console.error(
      "(this looks like a bug in halo-ehr: set HALO_EHR_DEBUG=1 to see where it happened, and please report it)",
    );
  process.exit(1);
}
