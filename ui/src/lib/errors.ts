// Human wording for AppError codes. The UI classifies errors by code, never by message text.
import type { AppError, ErrorCode } from "./types";

/** A headline and an optional hint for an error. */
export interface ErrorText {
  title: string;
  hint: string | null;
  /** The backend's message is a sentence written for people (our own wording, e.g. why an
   * input was refused): show it under the title. Otherwise it goes behind "Details". */
  showMessage?: boolean;
}

/** Wording that depends on where the error happened. */
export type ErrorContext = "enroll" | "enroll_link" | "general";

const ENROLL_TEXT: Partial<Record<ErrorCode, ErrorText>> = {
  input: {
    title: "That doesn't look like a valid enrolment link or payload.",
    hint: "Paste the whole assent://enroll link or the JSON payload the website showed you.",
    showMessage: true,
  },
};

const ENROLL_LINK_TEXT: Partial<Record<ErrorCode, ErrorText>> = {
  input: {
    title: "This enrolment link is not valid.",
    hint: "Ask the website for a new link, or paste the code it shows under Add account.",
  },
};

// Every code the backend can send has wording: a new Rust code fails the type check here.
const TEXT: Record<ErrorCode, ErrorText> = {
  input: { title: "That value was not accepted.", hint: null, showMessage: true },
  enroll_token_rejected: {
    title: "This enrolment code has expired or was already used — get a new one from the website.",
    hint: null,
  },
  already_enrolled: {
    title: "This account is already in Assent.",
    hint: "Remove the existing account first if you want to add it again.",
    showMessage: true,
  },
  account_not_found: { title: "This account no longer exists in Assent.", hint: null },
  challenge_not_found: { title: "This request is no longer known.", hint: "It may have been answered or removed already." },
  enroll_request_not_found: {
    title: "This enrolment link is no longer waiting.",
    hint: "It was already used or cancelled. Open the link from the website again.",
  },
  desktop: { title: "The desktop integration failed.", hint: null },
  match_required: {
    title: "This sign-in asks you to match a number.",
    hint: "Pick or type the number shown on the sign-in page, then approve.",
  },
  wrong_match: {
    title: "The number did not match the sign-in page.",
    hint: "Assent denied the sign-in. If you were signing in, start again.",
  },
  wrong_match_deny_failed: {
    title: "The number did not match the sign-in page.",
    hint: "The sign-in was not approved, but denying it failed. Deny it now.",
  },
  match_not_required: { title: "This sign-in does not ask for a number.", hint: null },
  match_invalid: {
    title: "This sign-in's number check is malformed, so it cannot be approved.",
    hint: "Deny it and ask the website to sign you in again.",
  },
  verification_required: {
    title: "Enter your Assent PIN to approve.",
    hint: "You asked Assent to confirm it's you before approving. Denying never needs the PIN.",
  },
  pin_wrong: { title: "That PIN is not right.", hint: "After 5 wrong PINs approving is locked for a while.", showMessage: true },
  pin_locked: {
    title: "Too many wrong PINs: approving is locked for now.",
    hint: "Wait until the time shown, then try again. You can still deny requests.",
    showMessage: true,
  },
  several_pending: {
    title: "Several sign-in requests are waiting for this account.",
    hint: "Read them in the window before approving one: a flood of requests is how attackers hope for a tired click.",
  },
  no_demo: { title: "The demo site is not running.", hint: "Assent was started without its built-in demo server." },
  insecure_url: {
    title: "The server address is not secure.",
    hint: "Only https addresses are accepted (plain http only for this computer).",
  },
  keychain_unavailable: {
    title: "The system keychain is not available.",
    hint: "Assent keeps its keys in the system keychain (Secret Service, e.g. GNOME Keyring). Start or install it and try again.",
  },
  keychain_locked: {
    title: "The system keychain is locked.",
    hint: "Unlock your keychain (log in again or open your keyring manager) and try again.",
  },
  key_storage: {
    title: "The key could not be stored or read.",
    hint: "Check that the system keychain is working, then try again.",
  },
  network: {
    title: "Could not reach the server.",
    hint: "Check your connection. Assent keeps retrying in the background.",
  },
  server: { title: "The server refused the request.", hint: null },
  authentication_token: {
    title: "The enrolment token was rejected.",
    hint: "It may have expired or been used already. Ask the website for a new link.",
  },
  expired_challenge: { title: "This request has expired.", hint: null },
  already_responded: { title: "This request was already answered.", hint: null },
  wrong_factor: { title: "This request belongs to a different account.", hint: null },
  not_updated: { title: "The server did not record the answer.", hint: "Try again." },
  factor_not_found: {
    title: "This account no longer exists on the server.",
    hint: "You can remove it from Assent.",
  },
  storage: { title: "Assent could not read or write its data.", hint: null },
  mapping: { title: "The server sent an answer Assent could not read.", hint: null },
  initialization: { title: "Assent could not start up correctly.", hint: null },
  invalid_argument: { title: "That value was not accepted.", hint: null, showMessage: true },
  signature_rejected: {
    title: "The server refused the signed answer.",
    hint: "The account's key may no longer match the server. Try again, or remove and re-add the account.",
  },
  content_mismatch: {
    title: "This request changed after it was shown.",
    hint: "Nothing was signed. Check the request again before answering.",
  },
  factor_exists: {
    title: "This account is already in Assent.",
    hint: "The server returned an account Assent already has; nothing was replaced.",
  },
  factor_not_verified: {
    title: "The server did not confirm the new account.",
    hint: "Nothing was added. Ask the website for a new link and try again.",
  },
  internal: { title: "Something went wrong inside Assent.", hint: null },
};

/** Wording for an error; unknown codes get a generic headline (the message is shown too). */
export function describeError(err: AppError, context: ErrorContext = "general"): ErrorText {
  const specific =
    context === "enroll" ? ENROLL_TEXT[err.code] : context === "enroll_link" ? ENROLL_LINK_TEXT[err.code] : undefined;
  return specific ?? TEXT[err.code] ?? { title: "Something went wrong.", hint: null };
}

/** Whether two sentences say the same, ignoring case, spacing and punctuation. */
function sameWords(a: string, b: string): boolean {
  const norm = (s: string) => s.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, " ").trim();
  return norm(a) === norm(b);
}

/** The backend's message when it belongs under the title (see `ErrorText.showMessage`). */
export function visibleMessage(err: AppError, text: ErrorText): string | null {
  if (!text.showMessage || !err.message || sameWords(err.message, text.title)) return null;
  return err.message;
}

/** What goes behind "Details": the backend's message (unless shown already or a repeat of
 * the title), the server's own answer, and the stable code. All plain text. */
export function errorDetails(err: AppError, text: ErrorText): string[] {
  const out: string[] = [];
  const msg = err.message?.trim();
  if (msg && !visibleMessage(err, text) && !sameWords(msg, text.title) && msg !== err.server?.message) out.push(msg);
  const server = serverText(err);
  if (server) out.push(server);
  if (err.server?.moreInfo) out.push(`More information: ${err.server.moreInfo}`);
  out.push(`Error code: ${err.code}`);
  return out;
}

/** "Server said: … (code 60317, HTTP 400)", or null when the error has no server part. */
export function serverText(err: AppError): string | null {
  if (!err.server) return null;
  const line = serverLine(err);
  return `Server said: ${err.server.message}${line ? ` (${line})` : ""}`;
}

/** "code 60317, HTTP 400"-style line for server errors, or null. */
export function serverLine(err: AppError): string | null {
  const s = err.server;
  if (!s) return null;
  const code = s.code != null ? `code ${s.code}` : null;
  const status = s.status ? `HTTP ${s.status}` : null;
  return [code, status].filter(Boolean).join(", ") || null;
}
