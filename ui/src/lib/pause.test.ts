import { describe, expect, it } from "vitest";
import { PAUSE_NAME, PAUSED_TITLE, pausedText, RESUME_LABEL } from "./pause";

const NOW = Date.parse("2026-11-26T12:00:00Z");

describe("pausedText", () => {
  it("says notifications, never requests", () => {
    expect(pausedText("forever", NOW, String)).toBe("Notifications are paused until you resume them");
    expect(pausedText("2026-11-26T13:00:00Z", NOW, () => "13:00")).toBe("Notifications are paused until 13:00");
    for (const t of [PAUSE_NAME, PAUSED_TITLE, RESUME_LABEL]) expect(t).toMatch(/otifications/);
  });
  // src-tauri/src/tray.rs checks that its menu uses PAUSE_NAME and RESUME_LABEL.
  it("is null when not paused, when the pause has ended, or for garbage", () => {
    expect(pausedText(null, NOW, String)).toBeNull();
    expect(pausedText(undefined, NOW, String)).toBeNull();
    expect(pausedText("2026-11-26T11:00:00Z", NOW, String)).toBeNull();
    expect(pausedText("soon", NOW, String)).toBeNull();
  });
});
