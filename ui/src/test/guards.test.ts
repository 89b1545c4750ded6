// Source guards for rules the CSP and the security model depend on: server text only as text,
// no inline styles, nothing persisted in the web view, IPC only through lib/ipc.ts.
import { describe, expect, it } from "vitest";

// Every app source file as text (Vite's raw import), without the tests and without the
// bindings generated from Rust (type declarations only, checked below).
const ALL = import.meta.glob(
  ["../**/*.ts", "../**/*.svelte", "!../**/*.test.ts", "!../test/**", "!../lib/bindings/**"],
  { query: "?raw", import: "default", eager: true },
) as Record<string, string>;

const BINDINGS = import.meta.glob("../lib/bindings/*.ts", {
  query: "?raw",
  import: "default",
  eager: true,
}) as Record<string, string>;

function sources(): string[] {
  return Object.keys(ALL);
}

function offenders(re: RegExp, files = sources()): string[] {
  return files.filter((f) => re.test(ALL[f]));
}

describe("source guards", () => {
  it("finds the sources it checks", () => {
    expect(sources().length).toBeGreaterThan(10);
  });
  it("never renders raw HTML", () => {
    expect(offenders(/\{@html|innerHTML|outerHTML|insertAdjacentHTML|document\.write/)).toEqual([]);
  });
  it("has no inline style attributes or style: directives (CSP style-src 'self')", () => {
    expect(offenders(/\sstyle=|\sstyle:[a-z-]+|setAttribute\(\s*["']style/, sources().filter((f) => f.endsWith(".svelte")))).toEqual([]);
  });
  it("does not evaluate strings or load remote resources", () => {
    expect(offenders(/\beval\(|new Function\(|https?:\/\/(?!localhost|127\.0\.0\.1|ipc\.localhost)[a-z]/i)).toEqual([]);
  });
  it("stores nothing in the web view", () => {
    expect(offenders(/localStorage|sessionStorage|indexedDB|document\.cookie/)).toEqual([]);
  });
  it("takes from the generated bindings nothing but types", () => {
    const files = Object.keys(BINDINGS);
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) {
      const code = BINDINGS[f].replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\/\/.*$/gm, "");
      expect(code.match(/^(import|export)\b(?! type )/gm), f).toBeNull();
    }
    // The UI reaches them only through lib/types.ts (type-only re-exports).
    const importers = offenders(/from "\.\.?\/(lib\/)?bindings\//).filter((f) => !f.endsWith("lib/types.ts"));
    expect(importers).toEqual([]);
  });
  it("calls invoke/listen only from lib/ipc.ts", () => {
    const files = sources().filter((f) => !f.endsWith("lib/ipc.ts"));
    expect(offenders(/@tauri-apps\/api\/(core|event)/, files)).toEqual([]);
  });
});
