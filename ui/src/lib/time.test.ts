import { describe, expect, it } from "vitest";
import { countdownStep, formatCountdown, formatRelative, formatWhen, isUrgent, remainingMs, spokenDuration } from "./time";

const NOW = Date.parse("2026-11-26T12:00:00Z");

describe("remainingMs", () => {
  it("counts down to expiresAt and never goes below zero", () => {
    expect(remainingMs("2026-11-26T12:05:00Z", NOW)).toBe(300_000);
    expect(remainingMs("2026-11-26T11:59:00Z", NOW)).toBe(0);
  });
  it("treats an unparsable date as expired", () => {
    expect(remainingMs("not a date", NOW)).toBe(0);
  });
});

describe("formatCountdown", () => {
  it("formats mm:ss and rounds partial seconds up", () => {
    expect(formatCountdown(300_000)).toBe("05:00");
    expect(formatCountdown(61_000)).toBe("01:01");
    expect(formatCountdown(59_001)).toBe("01:00");
    expect(formatCountdown(999)).toBe("00:01");
    expect(formatCountdown(0)).toBe("00:00");
    expect(formatCountdown(-5)).toBe("00:00");
  });
  it("lets minutes grow past an hour", () => {
    expect(formatCountdown(75 * 60_000)).toBe("75:00");
  });
});

describe("isUrgent", () => {
  it("is true only in the last 30 seconds before expiry", () => {
    expect(isUrgent(31_000)).toBe(false);
    expect(isUrgent(30_000)).toBe(true);
    expect(isUrgent(1)).toBe(true);
    expect(isUrgent(0)).toBe(false);
  });
});

describe("spokenDuration", () => {
  it("reads minutes and seconds with plurals", () => {
    expect(spokenDuration(125_000)).toBe("2 minutes 5 seconds");
    expect(spokenDuration(60_000)).toBe("1 minute");
    expect(spokenDuration(1_000)).toBe("1 second");
    expect(spokenDuration(0)).toBe("0 seconds");
  });
});

describe("formatRelative", () => {
  it("buckets past times", () => {
    expect(formatRelative(null, NOW)).toBe("never");
    expect(formatRelative("2026-11-26T11:59:50Z", NOW)).toBe("just now");
    expect(formatRelative("2026-11-26T11:55:00Z", NOW)).toBe("5 min ago");
    expect(formatRelative("2026-11-26T09:00:00Z", NOW)).toBe("3 h ago");
    expect(formatRelative("2026-11-25T10:00:00Z", NOW)).toBe("yesterday");
    expect(formatRelative("2026-11-23T12:00:00Z", NOW)).toBe("3 days ago");
    expect(formatRelative("garbage", NOW)).toBe("unknown");
  });
  it("reads a future time (clock skew) as just now", () => {
    expect(formatRelative("2026-11-26T12:03:00Z", NOW)).toBe("just now");
  });
  it("falls back to formatWhen after a week", () => {
    expect(formatRelative("2026-10-01T12:00:00Z", NOW)).toBe(formatWhen("2026-10-01T12:00:00Z", NOW));
    expect(formatRelative("2026-10-01T12:00:00Z", NOW)).toMatch(/Oct/);
  });
  it("changes as the clock moves on, with the same input", () => {
    const at = "2026-11-26T11:59:30Z";
    expect(formatRelative(at, NOW)).toBe("just now");
    expect(formatRelative(at, NOW + 5 * 60_000)).toBe("6 min ago");
  });
});

describe("formatWhen", () => {
  // Local times, so the test means the same in every time zone.
  const local = (y: number, mo: number, d: number, h: number, mi: number) => new Date(y, mo, d, h, mi).toISOString();
  const now = new Date(2026, 10, 26, 18, 0).getTime();
  const time = (iso: string) => new Date(iso).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });

  it("writes today's times as the time of day only", () => {
    const at = local(2026, 10, 26, 16, 5);
    expect(formatWhen(at, now)).toBe(time(at));
    expect(formatWhen(at, now)).not.toMatch(/Nov|2026/);
  });
  it("adds the date on another day and the year in another year, always with the time", () => {
    const earlier = local(2026, 10, 25, 16, 5);
    expect(formatWhen(earlier, now)).toMatch(/Nov/);
    expect(formatWhen(earlier, now)).not.toMatch(/2026/);
    expect(formatWhen(earlier, now)).toContain(time(earlier));
    const lastYear = local(2025, 10, 26, 16, 5);
    expect(formatWhen(lastYear, now)).toMatch(/2025/);
    expect(formatWhen(lastYear, now)).toContain(time(lastYear));
    // A future date in another year too (a pause or quiet time ending next year).
    expect(formatWhen(local(2027, 0, 2, 9, 0), now)).toMatch(/2027/);
  });
  it("says unknown for garbage", () => {
    expect(formatWhen("garbage", now)).toBe("unknown");
    expect(formatWhen("", now)).toBe("unknown");
  });
});

describe("countdownStep", () => {
  it("names only the last coarse step passed", () => {
    expect(countdownStep(300_000)).toBe("");
    expect(countdownStep(121_000)).toBe("");
    expect(countdownStep(120_000)).toBe("2 minutes left");
    expect(countdownStep(61_000)).toBe("2 minutes left");
    expect(countdownStep(60_000)).toBe("1 minute left");
    expect(countdownStep(30_500)).toBe("1 minute left");
    expect(countdownStep(30_000)).toBe("30 seconds left");
    expect(countdownStep(10_000)).toBe("10 seconds left");
    expect(countdownStep(1)).toBe("10 seconds left");
    expect(countdownStep(0)).toBe("");
  });
  it("changes at most four times over a five-minute request", () => {
    const seen = new Set<string>();
    for (let ms = 300_000; ms >= 0; ms -= 250) seen.add(countdownStep(ms));
    seen.delete("");
    expect(seen.size).toBe(4);
  });
});
