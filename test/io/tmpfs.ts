// Small tmpfs mounts for the disk-full and read-only tests. Mounting needs root. CI runs as root, so
// there a failed mount fails the test (it must not pass by skipping); elsewhere, without root, the test
// is skipped with the reason in the test report. HALO_EHR_NO_TMPFS=1 skips it on purpose, visibly.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Why a tmpfs test cannot run here, or false when it can (root, and not switched off). */
export function tmpfsSkipReason(): string | false {
  if (process.env.HALO_EHR_NO_TMPFS === "1") return "HALO_EHR_NO_TMPFS=1: tmpfs tests switched off";
  if (process.getuid?.() !== 0) return "mounting a tmpfs needs root (CI runs as root, where this test runs)";
  return false;
}

export interface Tmpfs {
  path: string;
  unmount(): void;
}

/** Mounts a tmpfs of `kib` KiB (read-only when asked); throws with mount's message when that fails. */
export function mountTmpfs(kib: number, opts: { readOnly?: boolean } = {}): Tmpfs {
  const path = mkdtempSync(join(tmpdir(), "halo-tmpfs-"));
  const options = `size=${kib}k,mode=0777${opts.readOnly ? ",ro" : ""}`;
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", options, "tmpfs", path], { stdio: "pipe" });
  } catch (error) {
    rmSync(path, { recursive: true, force: true });
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(
      `cannot mount a tmpfs at ${path} as root (${stderr || String(error)}); set HALO_EHR_NO_TMPFS=1 to skip these tests knowingly`,
    );
  }
  return {
    path,
    unmount() {
      execFileSync("umount", [path], { stdio: "pipe" });
      rmSync(path, { recursive: true, force: true });
    },
  };
}
