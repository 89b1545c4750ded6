// The IPC contract with src-tauri, mirrored from docs/design.md ("src-tauri ↔ ui").
// Every field is camelCase JSON; dates are RFC 3339 UTC strings.

/** A stable error code from the backend (snake_case), e.g. "network" or "insecure_url". */
export type ErrorCode =
  | "network"
  | "server"
  | "mapping"
  | "storage"
  | "input"
  | "key_storage"
  | "initialization"
  | "authentication_token"
  | "expired_challenge"
  | "already_responded"
  | "wrong_factor"
  | "not_updated"
  | "factor_not_found"
  | "keychain_unavailable"
  | "keychain_locked"
  | "insecure_url"
  // The backend may add codes; the UI falls back to the message for unknown ones.
  | (string & {});

/** The Verify API's own error body, kept whole. */
export interface ServerError {
  code: number | null;
  message: string;
  moreInfo: string | null;
  status: number;
}

/** What every command rejects with. */
export interface AppError {
  code: ErrorCode;
  message: string;
  server: ServerError | null;
}

export type AccountStatus = "verified" | "unverified";

export interface Account {
  factorSid: string;
  friendlyName: string;
  serviceSid: string;
  identity: string;
  status: AccountStatus;
  baseUrl: string;
  createdAt: string;
  lastActivityAt: string | null;
  problem: null | "key_missing";
}

export interface Field {
  label: string;
  value: string;
}

export type ChallengeStatus = "pending" | "approved" | "denied" | "expired";

export interface ChallengeView {
  sid: string;
  factorSid: string;
  status: ChallengeStatus;
  message: string;
  fields: Field[];
  createdAt: string;
  expiresAt: string;
  respondedAt: string | null;
  /** Number matching the relying party asked for; never holds which number is right. */
  match?: MatchRequest | null;
}

/** How the user proves they see the sign-in page: pick its number among three, or type it. */
export interface MatchRequest {
  mode: "choose" | "type";
  /** For "choose": three two-digit numbers, one of them the sign-in page's. */
  choices?: string[];
}

/** Why a sign-in was denied, told to the relying party. */
export type DenyReason = "not_me" | "mistake";

export interface PendingChallenge extends ChallengeView {
  accountName: string;
}

export interface HistoryPage {
  items: ChallengeView[];
  nextPageToken: string | null;
  previousPageToken: string | null;
}

export interface Settings {
  pollIntervalSecs: number;
  idlePollIntervalSecs: number;
  notificationsEnabled: boolean;
  startAtLogin: boolean;
  /** RFC 3339 instant, or "forever"; null when not paused. */
  pausedUntil: string | null;
}

export interface WatcherStatus {
  online: boolean;
  paused: boolean;
  lastPollAt: string | null;
  lastError: AppError | null;
}

export interface AppInfo {
  version: string;
  demoUrl: string | null;
  logDir: string;
}

export type EnrollStep = "parsing" | "creating_key" | "creating_factor" | "verifying" | "saving" | "done";

/** Payload of `focus-challenge`. */
export interface FocusChallengeEvent {
  challengeSid: string;
}

/** A valid deep link waiting for confirmation: what it would add. Never the link or token. */
export interface EnrollRequestPreview {
  /** Opaque id for `confirm_enroll_request` / `dismiss_enroll_request`. */
  requestId: string;
  identity: string;
  serviceSid: string;
  /** Origin of the API server (scheme, host and port only, no path). */
  baseUrl: string;
  factorType: "push";
  error?: undefined;
}

/** A deep link that cannot be enrolled, and why (the message never contains the token). */
export interface EnrollRequestInvalid {
  requestId: string;
  error: AppError;
}

/** Payload of `enroll-request` and result of `take_enroll_request` (a deep link arrived). */
export type EnrollRequest = EnrollRequestPreview | EnrollRequestInvalid;

/** Payload of `enroll-progress`. */
export interface EnrollProgressEvent {
  step: EnrollStep;
}
