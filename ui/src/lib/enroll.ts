// A read-only preview of an enrolment link or JSON payload, so the user can see where an account
// would be added before confirming. Validation is the backend's job (`enroll`); this never keeps
// or shows the token.

/** What the user sees before confirming. */
export interface EnrollPreview {
  identity: string | null;
  serviceSid: string | null;
  host: string | null;
  /** http to a non-loopback host: the backend will refuse it. */
  insecure: boolean;
}

function fromFields(get: (k: string) => unknown): EnrollPreview | null {
  const str = (k: string) => {
    const v = get(k);
    return typeof v === "string" && v.length > 0 ? v : null;
  };
  const baseUrl = str("baseUrl");
  let host: string | null = null;
  let insecure = false;
  if (baseUrl) {
    try {
      const u = new URL(baseUrl);
      host = u.host;
      const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(u.hostname);
      insecure = u.protocol !== "https:" && !loopback;
    } catch {
      host = null;
    }
  }
  const preview = { identity: str("identity"), serviceSid: str("serviceSid"), host, insecure };
  return preview.identity || preview.serviceSid || preview.host ? preview : null;
}

/** Parses an `assent://enroll?…` link or the JSON payload; null when it is neither. */
export function previewEnrollment(text: string): EnrollPreview | null {
  const t = text.trim();
  if (!t) return null;
  if (t.startsWith("{")) {
    try {
      const o = JSON.parse(t) as unknown;
      if (!o || typeof o !== "object") return null;
      return fromFields((k) => (o as Record<string, unknown>)[k]);
    } catch {
      return null;
    }
  }
  if (/^assent:/i.test(t)) {
    const q = t.indexOf("?");
    if (q < 0) return null;
    const params = new URLSearchParams(t.slice(q + 1));
    return fromFields((k) => params.get(k));
  }
  return null;
}
