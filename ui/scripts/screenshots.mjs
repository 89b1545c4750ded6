#!/usr/bin/env node
// Screenshots of the production build in headless Chromium, under the app's strict CSP, with the
// Tauri IPC bridge mocked by an init script (no backend needed). Fails on any CSP violation or
// page error. Usage: npm run build && node scripts/screenshots.mjs [outDir]
// Needs Debian's chromium (/usr/bin/chromium, or CHROMIUM=path).
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { DATA, LINK, bridgeSource, serveDist } from "./mock-bridge.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? join(here, "..", "screenshots"));
mkdirSync(out, { recursive: true });
const { server, base } = await serveDist();
const { home, pending: withTwo, quiet, offline: offlineData, empty, enrollError } = DATA;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
});

const problems = [];
async function shot(name, data, { theme = "light", width = 800, height = 600, act, fullPage = false } = {}) {
  const ctx = await browser.newContext({ viewport: { width, height }, colorScheme: theme, deviceScaleFactor: 1 });
  const page = await ctx.newPage();
  page.on("pageerror", (e) => problems.push(`${name}: page error ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") problems.push(`${name}: console ${m.text()}`); });
  await page.addInitScript({ content: bridgeSource(data) });
  await page.goto(base);
  await page.waitForSelector("[data-testid=account-list], [data-testid=challenge-card]");
  if (act) await act(page);
  await page.waitForTimeout(250);
  const file = join(out, `${name}-${theme}.png`);
  await page.screenshot({ path: file, fullPage });
  const v = await page.evaluate(() => window.__cspViolations);
  for (const x of v) problems.push(`${name}: CSP violation ${x}`);
  await ctx.close();
  console.log(`wrote ${file}`);
}

const act = {
  approve: async (p) => { await p.click("[data-testid=approve-button]"); await p.waitForSelector("[data-testid=challenge-result]"); },
  history: async (p) => { await p.click("[data-testid=history-button]"); await p.waitForSelector("[data-testid=history-item]"); },
  enroll: async (p) => { await p.click("[data-testid=add-account-button]"); await p.fill("[data-testid=enroll-input]", LINK); await p.fill("[data-testid=enroll-name]", "Example Bank"); },
  enrollProgress: async (p) => {
    await p.click("[data-testid=add-account-button]");
    await p.fill("[data-testid=enroll-input]", LINK);
    await p.click("[data-testid=enroll-submit]");
    await p.evaluate(() => { window.__emit("enroll-progress", { step: "creating_key" }); window.__emit("enroll-progress", { step: "creating_factor" }); });
  },
  enrollError: async (p) => { await p.click("[data-testid=add-account-button]"); await p.fill("[data-testid=enroll-input]", LINK); await p.click("[data-testid=enroll-submit]"); await p.waitForSelector("[data-testid=enroll-error]"); },
  remove: async (p) => { await p.click("[data-testid=remove-account-button]"); },
  settings: async (p) => { await p.click("[data-testid=settings-button]"); await p.waitForSelector("[data-testid=settings-save]"); },
};
const scenarios = [
  ["home", home, {}],
  ["pending", withTwo, { fullPage: true }],
  ["answered", home, { act: act.approve }],
  ["history", quiet, { act: act.history }],
  ["accounts", quiet, {}],
  ["offline", offlineData, {}],
  ["enroll", quiet, { act: act.enroll }],
  ["enroll-progress", quiet, { act: act.enrollProgress }],
  ["enroll-error", enrollError, { act: act.enrollError }],
  ["remove", quiet, { act: act.remove }],
  ["settings", quiet, { act: act.settings }],
  ["empty", empty, {}],
];
for (const theme of ["light", "dark"]) {
  for (const [name, data, opts] of scenarios) await shot(name, data, { theme, ...opts });
  await shot("narrow", withTwo, { theme, width: 360, height: 740 });
  await shot("narrow-accounts", quiet, { theme, width: 360, height: 740, fullPage: true });
  await shot("narrow-settings", quiet, { theme, width: 360, height: 740, act: act.settings, fullPage: true });
}
await browser.close();
server.close();

if (problems.length) {
  console.error(problems.join("\n"));
  process.exit(1);
}
console.log(`screenshots in ${out}; no CSP violations or page errors`);
