// Countdown and relative-time helpers; pure functions of (date, now) so they are easy to test.

/** Milliseconds left until `expiresAt` (never negative). Unparsable dates count as expired. */
export function remainingMs(expiresAt: string, now: number): number {
  const t = Date.parse(expiresAt);
  if (Number.isNaN(t)) return 0;
  return Math.max(0, t - now);
}

/** "mm:ss" for a duration, rounded up to whole seconds so "00:00" means really expired. */
export function formatCountdown(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const m = Math.floor(total / 60);
  const s = total % 60;
  return `${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}`;
}

/** The last 30 seconds are urgent. */
export const URGENT_MS = 30_000;

export function isUrgent(ms: number): boolean {
  return ms > 0 && ms <= URGENT_MS;
}

/** Spoken form of a countdown, e.g. "4 minutes 5 seconds". */
export function spokenDuration(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const m = Math.floor(total / 60);
  const s = total % 60;
  const parts: string[] = [];
  if (m) parts.push(`${m} minute${m === 1 ? "" : "s"}`);
  if (s || !m) parts.push(`${s} second${s === 1 ? "" : "s"}`);
  return parts.join(" ");
}

/** "just now", "5 min ago", "3 h ago", "yesterday", "3 days ago", else `formatWhen`. Future dates (clock skew)
 * read as "just now". */
export function formatRelative(iso: string | null, now: number): string {
  if (!iso) return "never";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "unknown";
  const secs = Math.floor((now - t) / 1000);
  if (secs < 45) return "just now";
  const mins = Math.round(secs / 60);
  if (mins < 60) return `${mins} min ago`;
  const hours = Math.round(mins / 60);
  if (hours < 24) return `${hours} h ago`;
  const days = Math.round(hours / 24);
  if (days === 1) return "yesterday";
  if (days < 7) return `${days} days ago`;
  return formatWhen(iso, now);
}

/** The one way the window writes a point in time: the local time of day ("16:05"), with the
 * date before it when it is not today ("Nov 26, 16:05") and the year when it is not this year
 * ("Nov 26, 2025, 16:05"). "unknown" for an unparsable date. */
export function formatWhen(iso: string, now: number): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "unknown";
  const today = new Date(now);
  const sameYear = d.getFullYear() === today.getFullYear();
  const sameDay = sameYear && d.getMonth() === today.getMonth() && d.getDate() === today.getDate();
  const time: Intl.DateTimeFormatOptions = { hour: "2-digit", minute: "2-digit" };
  if (sameDay) return d.toLocaleTimeString(undefined, time);
  return d.toLocaleString(undefined, {
    ...(sameYear ? {} : { year: "numeric" }),
    month: "short",
    day: "numeric",
    ...time,
  });
}

/** Seconds left at which a countdown is spoken (polite, once each): coarse, so a screen reader
 * hears a handful of updates over a request's life, never one a second. */
export const SPOKEN_STEPS = [120, 60, 30, 10] as const;

/** What a screen reader is told about `ms` left: the last step passed ("1 minute left"), or ""
 * before the first one. Changes only when a step is crossed. */
export function countdownStep(ms: number): string {
  const secs = Math.ceil(Math.max(0, ms) / 1000);
  if (secs === 0) return "";
  let step: number | null = null;
  for (const s of SPOKEN_STEPS) if (secs <= s) step = s;
  if (step === null) return "";
  return step >= 60 ? `${step / 60} minute${step === 60 ? "" : "s"} left` : `${step} seconds left`;
}
