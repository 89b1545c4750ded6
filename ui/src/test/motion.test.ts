// Reduced motion is one global rule (app.css) that outranks every component's animation and
// transition; this checks the rule is there and that no stylesheet escapes it.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const src = join(__dirname, "..");

function files(dir: string, ext = /\.(svelte|css)$/): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name), ext) : ext.test(e.name) ? [join(dir, e.name)] : [],
  );
}

describe("prefers-reduced-motion", () => {
  it("app.css turns every animation and transition off", () => {
    const css = readFileSync(join(src, "app.css"), "utf8");
    const block = /@media \(prefers-reduced-motion: reduce\) \{\s*\*,\s*\*::before,\s*\*::after \{([^}]*)\}/.exec(css);
    expect(block, "a global reduced-motion rule in app.css").not.toBeNull();
    expect(block![1]).toContain("animation: none !important");
    expect(block![1]).toContain("transition: none !important");
  });

  it("no stylesheet uses !important on motion (which would beat the global rule)", () => {
    const motion = /(animation|transition)[a-z-]*\s*:[^;]*!important/g;
    for (const f of files(src)) {
      if (f.endsWith("app.css")) continue;
      expect(readFileSync(f, "utf8").match(motion), f).toBeNull();
    }
  });

  it("nothing scrolls smoothly from script (that ignores the CSS rule)", () => {
    for (const f of files(src, /(?<!\.test)\.(svelte|ts)$/))
      expect(readFileSync(f, "utf8"), f).not.toMatch(/behavior:\s*["']smooth/);
  });
});
