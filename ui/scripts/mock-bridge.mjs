// Shared by scripts/screenshots.mjs (Chromium) and scripts/webkit-check.py (WebKitGTK): serves
// dist/ with the app's CSP header and builds an init script that mocks the Tauri IPC bridge
// with contract-shaped fixtures. CLI: `node scripts/mock-bridge.mjs SCENARIO` serves dist/ and
// prints one JSON line {base, script} (then serves until killed).
import { createServer } from "node:http";
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, extname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const dist = resolve(here, "..", "dist");

/** The CSP from src-tauri/tauri.conf.json. */
export const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src ipc: http://ipc.localhost";

/** Serves dist/ on a free loopback port with the CSP header. */
export async function serveDist() {
  if (!existsSync(join(dist, "index.html"))) throw new Error("dist/index.html missing: run `npm run build` first");
  const TYPES = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png" };
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname)).replace(/^(\.\.[/\\])+/, "");
    let file = join(dist, path);
    if (!file.startsWith(dist) || !existsSync(file) || statSync(file).isDirectory()) file = join(dist, "index.html");
    res.writeHead(200, {
      "content-type": TYPES[extname(file)] ?? "application/octet-stream",
      "content-security-policy": CSP,
    });
    res.end(readFileSync(file));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { server, base: `http://127.0.0.1:${server.address().port}/` };
}

const now = Date.now();
const iso = (deltaMs) => new Date(now + deltaMs).toISOString();
const accounts = [
  { factorSid: "YF0b5e4f9a1c2d3e4f5a6b7c8d9e0f1a2b", friendlyName: "Example Bank", serviceSid: "VA5d9a8c7b6e5f4a3b2c1d0e9f8a7b6c5d", identity: "alice@example.com", status: "verified", baseUrl: "http://127.0.0.1:8790/v2/", createdAt: iso(-86400e3 * 12), lastActivityAt: iso(-4 * 60e3), problem: null },
  { factorSid: "YF1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f", friendlyName: "Work VPN", serviceSid: "VA0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b", identity: "a.smith", status: "verified", baseUrl: "https://verify.example.com/v2/", createdAt: iso(-86400e3 * 40), lastActivityAt: iso(-86400e3 * 2), problem: null },
  { factorSid: "YF9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c", friendlyName: "Old laptop login", serviceSid: "VA7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e", identity: "alice", status: "verified", baseUrl: "https://verify.example.com/v2/", createdAt: iso(-86400e3 * 200), lastActivityAt: null, problem: "key_missing" },
];
const pending = [
  { sid: "YC11111111111111111111111111111111", factorSid: accounts[0].factorSid, status: "pending", message: "Sign in to Example Bank", fields: [{ label: "Location", value: "Berlin, Germany" }, { label: "Browser", value: "Firefox 140 on Linux" }, { label: "IP address", value: "203.0.113.42" }], createdAt: iso(-25e3), expiresAt: iso(275e3), respondedAt: null, accountName: "Example Bank" },
];
const pendingMulti = [
  pending[0],
  { sid: "YC22222222222222222222222222222222", factorSid: accounts[1].factorSid, status: "pending", message: "Approve VPN connection from a new device?", fields: [{ label: "Device", value: "ThinkPad X1 (new)" }], createdAt: iso(-280e3), expiresAt: iso(20e3), respondedAt: null, accountName: "Work VPN" },
];
const statuses = ["approved", "denied", "approved", "expired", "approved", "denied"];
const history = {
  items: statuses.map((status, i) => ({ sid: `YCH${i}`.padEnd(34, "0"), factorSid: accounts[0].factorSid, status, message: i % 2 ? "Transfer €250.00 to J. Doe" : "Sign in to Example Bank", fields: [{ label: "Location", value: "Berlin, Germany" }], createdAt: iso(-(i + 1) * 3.6e6), expiresAt: iso(-(i + 1) * 3.6e6 + 300e3), respondedAt: status === "expired" ? null : iso(-(i + 1) * 3.6e6 + 20e3) })),
  nextPageToken: "PN2",
  previousPageToken: null,
};
const settings = { pollIntervalSecs: 5, idlePollIntervalSecs: 60, notificationsEnabled: true, startAtLogin: false, pausedUntil: null };
const online = { online: true, paused: false, lastPollAt: iso(-3e3), lastError: null };
const offline = { online: false, paused: false, lastPollAt: iso(-6 * 60e3), lastError: { code: "network", message: "error sending request: connection refused", server: null } };
const info = { version: "0.1.0", demoUrl: "http://127.0.0.1:8790/demo/", logDir: "~/.local/share/assent/logs" };
export const LINK = "assent://enroll?token=eyJhbGciOiJIUzI1NiJ9.redacted.sig&serviceSid=VA5d9a8c7b6e5f4a3b2c1d0e9f8a7b6c5d&identity=alice%40example.com&factorType=push&baseUrl=http%3A%2F%2F127.0.0.1%3A8790%2Fv2%2F";


// --- the mocked bridge (runs in the page before the app) ----------------------------------
export function installBridge(raw) {
  // Fixture times are relative to when the script started; shift them to this page's "now" so
  // countdowns read the same in every screenshot.
  const delta = Date.now() - raw.generatedAt;
  const shift = (v) =>
    typeof v === "string" && /^\d{4}-\d\d-\d\dT/.test(v)
      ? new Date(Date.parse(v) + delta).toISOString()
      : Array.isArray(v)
        ? v.map(shift)
        : v && typeof v === "object"
          ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shift(x)]))
          : v;
  const data = shift(raw);
  // tauri.conf.json sets "freezePrototype": true; do the same so a write to Object.prototype
  // fails here as it would in the app.
  Object.freeze(Object.prototype);
  const callbacks = new Map();
  const listeners = new Map();
  let next = 1;
  window.__cspViolations = [];
  document.addEventListener("securitypolicyviolation", (e) =>
    window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`),
  );
  const answers = {
    list_accounts: () => data.accounts,
    pending_challenges: () => data.pending,
    watcher_status: () => data.watcher,
    get_settings: () => data.settings,
    update_settings: (a) => a.settings,
    app_info: () => data.info,
    challenge_history: () => data.history,
    approve_challenge: (a) => ({ ...data.pending.find((c) => c.sid === a.challengeSid), status: "approved", respondedAt: new Date().toISOString() }),
    deny_challenge: (a) => ({ ...data.pending.find((c) => c.sid === a.challengeSid), status: "denied", respondedAt: new Date().toISOString() }),
    enroll: () => new Promise(() => {}),
    check_now: () => null,
    open_demo_site: () => null,
    remove_account: () => null,
    take_enroll_request: () => null,
  };
  window.__TAURI_INTERNALS__ = {
    metadata: { currentWindow: { label: "main" }, currentWebview: { windowLabel: "main", label: "main" } },
    transformCallback(cb, once) {
      const id = next++;
      callbacks.set(id, (d) => { if (once) callbacks.delete(id); return cb && cb(d); });
      return id;
    },
    unregisterCallback: (id) => callbacks.delete(id),
    async invoke(cmd, args) {
      if (cmd === "plugin:event|listen") {
        if (!listeners.has(args.event)) listeners.set(args.event, []);
        listeners.get(args.event).push(args.handler);
        return args.handler;
      }
      if (cmd === "plugin:event|unlisten") return null;
      const f = answers[cmd];
      if (!f) throw { code: "internal", message: `unmocked command ${cmd}`, server: null };
      if (data.errors && data.errors[cmd]) throw data.errors[cmd];
      return f(args);
    },
  };
  window.__TAURI_EVENT_PLUGIN_INTERNALS__ = { unregisterListener: () => {} };
  window.__emit = (event, payload) => {
    for (const id of listeners.get(event) ?? []) callbacks.get(id)?.({ event, id, payload });
  };
}

export const home = { accounts, pending, watcher: online, settings, info, history };
/** Named data sets for the bridge. */
export const DATA = {
  home,
  pending: { ...home, pending: pendingMulti },
  empty: { ...home, accounts: [], pending: [] },
  quiet: { ...home, pending: [] },
  offline: { ...home, pending: [], watcher: offline },
  enrollError: {
    ...home,
    pending: [],
    errors: { enroll: { code: "server", message: "Verify API error", server: { code: 60317, message: "The enrolment token has expired", moreInfo: null, status: 401 } } },
  },
};

/** Init-script source that installs the bridge with `data`. */
export function bridgeSource(data) {
  return `(${installBridge.toString()})(${JSON.stringify({ ...data, generatedAt: now })});`;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const name = process.argv[2] ?? "home";
  if (!DATA[name]) {
    console.error(`unknown scenario ${name}; one of ${Object.keys(DATA).join(", ")}`);
    process.exit(2);
  }
  const { base } = await serveDist();
  console.log(JSON.stringify({ base, script: bridgeSource(DATA[name]) }));
}
