// The report's rendering tests open it in headless Chromium (Debian's, driven by playwright-core):
// skipped with the reason outside CI when Chromium is missing, a failure under CI=true.
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { chromium, type Page } from "playwright-core";
import { skipOutsideCI } from "../ci.ts";

const CHROMIUM = "/usr/bin/chromium";

/** Writes `html` to a temporary report.html, opens it in a fresh profile and runs `check` on the page. */
export async function inChromium(
  t: TestContext,
  html: string,
  check: (page: Page, file: string, dir: string) => Promise<void>,
): Promise<void> {
  const skip = skipOutsideCI(
    !existsSync(CHROMIUM) && `${CHROMIUM} not found; install it (apt-get install -y chromium) to run the browser check`,
  );
  if (skip) {
    t.skip(skip);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "halo-report-"));
  const file = join(dir, "report.html");
  writeFileSync(file, html);
  const context = await chromium.launchPersistentContext(join(dir, "profile"), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1240, height: 900 },
  });
  try {
    await check(await context.newPage(), file, dir);
  } finally {
    await context.close();
  }
}
