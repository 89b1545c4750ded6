// One name for pausing, used by the banner, the header chip and Settings (the tray in
// src-tauri/src/tray.rs says the same): it holds back notifications, never requests.

/** The feature's name, as a heading and in the tray. */
export const PAUSE_NAME = "Pause notifications";
/** The banner on every screen while paused. */
export const PAUSED_TITLE = "Notifications are paused — requests still appear here";
/** The button that ends the pause, wherever it is. */
export const RESUME_LABEL = "Resume notifications";

/** Settings' line for a `pausedUntil` value: `formatUntil` renders a time. `null` when not
 * paused (none set, or the time has passed). */
export function pausedText(
  pausedUntil: string | null | undefined,
  now: number,
  formatUntil: (iso: string) => string,
): string | null {
  if (!pausedUntil) return null;
  if (pausedUntil === "forever") return "Notifications are paused until you resume them";
  const t = Date.parse(pausedUntil);
  if (Number.isNaN(t) || t <= now) return null;
  return `Notifications are paused until ${formatUntil(pausedUntil)}`;
}
