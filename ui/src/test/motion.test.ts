// Reduced motion is one global rule (app.css) that outranks every component's animation and
// transition; this checks the rule is there and that no stylesheet escapes it.
import { describe, expect, it } from "vitest";

const APP_CSS = import.meta.glob("../app.css", { query: "?raw", import: "default", eager: true }) as Record<
  string,
  string
>;
const SOURCES = import.meta.glob(["../**/*.svelte", "../**/*.css", "../**/*.ts", "!../**/*.test.ts", "!../test/**"], {
  query: "?raw",
  import: "default",
  eager: true,
}) as Record<string, string>;

describe("prefers-reduced-motion", () => {
  it("app.css turns every animation and transition off", () => {
    const css = APP_CSS["../app.css"];
    const block = /@media \(prefers-reduced-motion: reduce\) \{\s*\*,\s*\*::before,\s*\*::after \{([^}]*)\}/.exec(css);
    expect(block, "a global reduced-motion rule in app.css").not.toBeNull();
    expect(block![1]).toContain("animation: none !important");
    expect(block![1]).toContain("transition: none !important");
  });

  it("no stylesheet uses !important on motion (which would beat the global rule)", () => {
    expect(Object.keys(SOURCES).length).toBeGreaterThan(10);
    const motion = /(animation|transition)[a-z-]*\s*:[^;]*!important/;
    for (const [f, text] of Object.entries(SOURCES)) {
      if (f === "../app.css") continue;
      expect(motion.test(text), f).toBe(false);
    }
  });

  it("nothing scrolls smoothly from script (that ignores the CSS rule)", () => {
    for (const [f, text] of Object.entries(SOURCES)) expect(text, f).not.toMatch(/behavior:\s*["']smooth/);
  });
});
