import { describe, expect, it } from "vitest";
import { compensate, type HoldState } from "./hold";

const zero: HoldState = { held: 0, top: 0, bottom: 0 };

describe("compensate", () => {
  it("scrolls down by what arrived above when the page has room", () => {
    const c = compensate(120, zero, { scrollY: 0, scrollRoom: 500 });
    expect(c.scrollBy).toBe(120);
    expect(c.state).toEqual({ held: 120, top: 0, bottom: 0 });
  });

  it("adds room below when a short page cannot scroll far enough", () => {
    const c = compensate(200, zero, { scrollY: 0, scrollRoom: 60 });
    expect(c.scrollBy).toBe(200);
    expect(c.state).toEqual({ held: 200, top: 0, bottom: 140 });
  });

  it("scrolls up for what left above, and a spacer stands in where it cannot", () => {
    const c = compensate(-150, zero, { scrollY: 100, scrollRoom: 0 });
    expect(c.scrollBy).toBe(-100);
    expect(c.state).toEqual({ held: -100, top: 50, bottom: 0 });
  });

  it("gives back the spacer first when content arrives after some left", () => {
    const c = compensate(80, { held: 0, top: 50, bottom: 0 }, { scrollY: 0, scrollRoom: 0 });
    expect(c.scrollBy).toBe(30);
    expect(c.state).toEqual({ held: 30, top: 0, bottom: 30 });
  });

  it("does nothing when nothing moved", () => {
    expect(compensate(0, zero, { scrollY: 10, scrollRoom: 10 })).toEqual({ scrollBy: 0, state: zero });
  });
});
