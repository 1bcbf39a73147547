// The console's Audit page in headless Chromium (playwright-core + Debian's chromium), against a
// Worker whose audit log already has rows (tests/e2e/audit.rs fills it, then runs this script).
// Usage: node tests/js/audit.mjs <base-url> <screenshot-dir> <canary>
// Prints one JSON line: {ok, error?, rows, blockedRows, errorText, consoleErrors, screenshots}.

import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [base, dir, canary] = process.argv.slice(2);
const report = { ok: false, consoleErrors: [], screenshots: [] };

function chromiumPath() {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  return execFileSync("sh", ["-c", "command -v chromium || command -v chromium-browser"], { encoding: "utf8" }).trim();
}

function check(condition, what) {
  if (!condition) throw new Error(`check failed: ${what}`);
}

mkdirSync(dir, { recursive: true });
const browser = await chromium.launch({
  executablePath: chromiumPath(),
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  let expectFailedLoad = false;
  page.on("console", (msg) => {
    // The 400 of the bad-filter check is expected; the browser logs it as a failed resource.
    if (msg.type() === "error" && !(expectFailedLoad && /status of 400/.test(msg.text()))) {
      report.consoleErrors.push(msg.text());
    }
  });
  page.on("pageerror", (error) => report.consoleErrors.push(String(error)));

  // The sidebar reaches the page.
  await page.goto(`${base}/`);
  await page.getByRole("link", { name: "Audit", exact: true }).click();
  await page.getByRole("heading", { level: 1, name: "Audit" }).waitFor();
  const table = page.getByRole("table", { name: "Audit log" });
  await table.waitFor();
  report.rows = await table.locator("tbody tr").count();
  check(report.rows > 0, "rows are listed");
  check((await page.content()).includes("tools.petstore.org.main.pets.getPet"), "addresses are shown");
  const shot = join(dir, "audit.png");
  await page.screenshot({ path: shot, fullPage: true });
  report.screenshots.push(shot);

  // Keyboard only: pick a decision and submit with Enter from a text field.
  const decision = page.getByLabel("Decision");
  await decision.focus();
  await page.keyboard.press("b");
  if ((await decision.inputValue()) !== "blocked") await decision.selectOption("blocked");
  await page.keyboard.press("Shift+Tab");
  await page.keyboard.press("Shift+Tab");
  check((await page.evaluate(() => document.activeElement?.name)) === "integration", "Shift+Tab reaches the integration field");
  await page.keyboard.type("petstore");
  await page.keyboard.press("Enter");
  await page.waitForURL(/decision=blocked/);
  await page.waitForFunction(() => {
    const body = document.querySelector("[data-testid=audit-table] tbody");
    return body && body.innerText.includes("Blocked") && !body.innerText.includes("Allowed");
  });
  report.blockedRows = await table.locator("tbody tr").count();
  check(report.blockedRows >= 1, "the blocked call is listed");
  check((await table.locator("tbody").innerText()).includes("Blocked"), "decision badge");
  check(!(await table.locator("tbody").innerText()).includes("Allowed"), "only blocked rows");
  const filtered = join(dir, "audit-blocked.png");
  await page.screenshot({ path: filtered, fullPage: true });
  report.screenshots.push(filtered);

  // A filter the API refuses shows the API's own message.
  expectFailedLoad = true;
  await page.goto(`${base}/audit?decision=maybe`);
  const alert = page.getByRole("alert");
  await alert.waitFor();
  report.errorText = await alert.innerText();
  check(report.errorText.includes("InvalidAuditFilterError"), "the error names the API's tag");
  expectFailedLoad = false;

  check(!(await page.content()).includes(canary), "the canary is not on the page");
  check(report.consoleErrors.length === 0, `no console errors: ${report.consoleErrors.join(" | ")}`);
  report.ok = true;
} catch (error) {
  report.error = String(error?.stack ?? error);
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
