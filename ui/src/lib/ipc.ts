// Typed wrappers for every command and event of the IPC contract. This is the only module that
// calls `invoke` or `listen`; components go through these functions.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type {
  Account,
  AppError,
  AppInfo,
  ChallengeRemovedEvent,
  ChallengeView,
  DenyAllReport,
  DenyReason,
  EnrollPreview,
  EnrollProgressEvent,
  EnrollRequest,
  ErrorCode,
  FocusChallengeEvent,
  HistoryPage,
  PageHandover,
  PendingChallenge,
  RelayedSignInEvent,
  Settings,
  VerificationScope,
  VerificationView,
  WatcherStatus,
} from "./types";

/** Turns whatever a command rejected with into an AppError (the backend sends one; a missing
 * command or a broken bridge rejects with a plain string). */
export function toAppError(e: unknown): AppError {
  if (e && typeof e === "object" && "code" in e && "message" in e) {
    const o = e as Partial<AppError>;
    return {
      // The backend only sends its own codes (the generated `AppErrorCode`).
      code: String(o.code) as ErrorCode,
      message: String(o.message),
      server: o.server ?? null,
    };
  }
  if (e instanceof Error) return { code: "internal", message: e.message, server: null };
  return { code: "internal", message: String(e), server: null };
}

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw toAppError(e);
  }
}

/** Commands (rejections are always AppError). */
export const api = {
  listAccounts: () => call<Account[]>("list_accounts"),
  pendingChallenges: () => call<PendingChallenge[]>("pending_challenges"),
  /** `code`: the number picked or typed when the sign-in asks for number matching; `pin`: the
   * app PIN when the account asks for it. */
  approveChallenge: (factorSid: string, challengeSid: string, code?: string, pin?: string) =>
    call<ChallengeView>("approve_challenge", {
      factorSid,
      challengeSid,
      ...(code === undefined ? {} : { code }),
      ...(pin === undefined ? {} : { pin }),
    }),
  /** `reason` is told to the relying party. */
  denyChallenge: (factorSid: string, challengeSid: string, reason?: DenyReason) =>
    call<ChallengeView>(
      "deny_challenge",
      reason === undefined ? { factorSid, challengeSid } : { factorSid, challengeSid, reason },
    ),
  /** Denies every pending request of one account; says which could not be denied. */
  denyAllChallenges: (factorSid: string, reason?: DenyReason) =>
    call<DenyAllReport>(
      "deny_all_challenges",
      reason === undefined ? { factorSid } : { factorSid, reason },
    ),
  challengeHistory: (factorSid: string, pageToken?: string) =>
    call<HistoryPage>("challenge_history", pageToken ? { factorSid, pageToken } : { factorSid }),
  enroll: (payload: string, friendlyName?: string) =>
    call<Account>("enroll", friendlyName ? { payload, friendlyName } : { payload }),
  /** What enrolling with the pasted text would add (parsed in Rust, never returns the token);
   * rejects with why `enroll` would fail. */
  previewEnrollPayload: (text: string) => call<EnrollPreview>("preview_enroll_payload", { text }),
  removeAccount: (factorSid: string) => call<null>("remove_account", { factorSid }),
  /** Allows or forbids silent approval from the account's enrolled origin. */
  setSilentApproval: (factorSid: string, allowed: boolean) =>
    call<Account>("set_silent_approval", { factorSid, allowed }),
  getSettings: () => call<Settings>("get_settings"),
  updateSettings: (settings: Settings) => call<Settings>("update_settings", { settings }),
  checkNow: () => call<null>("check_now"),
  watcherStatus: () => call<WatcherStatus>("watcher_status"),
  openDemoSite: () => call<null>("open_demo_site"),
  appInfo: () => call<AppInfo>("app_info"),
  /** The newest deep link still waiting for confirmation, as a preview (call on mount). */
  takeEnrollRequest: () => call<EnrollRequest | null>("take_enroll_request"),
  /** Enrols with the deep link the backend keeps under `requestId` (progress as for `enroll`). */
  confirmEnrollRequest: (requestId: string, friendlyName?: string) =>
    call<Account>("confirm_enroll_request", friendlyName ? { requestId, friendlyName } : { requestId }),
  /** Drops a waiting deep link (the user cancelled). */
  dismissEnrollRequest: (requestId: string) => call<null>("dismiss_enroll_request", { requestId }),
  /** This page has rendered its data: the backend shows the window now and hands over the card
   * it was opened for (a tray item or a notification) and what happened before it listened. */
  pageReady: () => call<PageHandover>("page_ready"),
  /** Whether approving asks for the app PIN, for which accounts, and any lock. */
  verificationStatus: () => call<VerificationView>("verification_status"),
  /** Sets the app PIN; `current` is needed when one is set already. */
  setPin: (pin: string, scope: VerificationScope, current?: string) =>
    call<VerificationView>("set_pin", current === undefined ? { pin, scope } : { current, pin, scope }),
  setVerificationScope: (pin: string, scope: VerificationScope) =>
    call<VerificationView>("set_verification_scope", { pin, scope }),
  removePin: (pin: string) => call<VerificationView>("remove_pin", { pin }),
};

function on<T>(event: string, cb: (payload: T) => void): Promise<UnlistenFn> {
  return listen<T>(event, (e) => cb(e.payload));
}

/** Events (backend → UI). Each returns the unlisten function. */
export const events = {
  challengesChanged: (cb: (list: PendingChallenge[]) => void) => on("challenges-changed", cb),
  accountsChanged: (cb: (list: Account[]) => void) => on("accounts-changed", cb),
  watcherStatus: (cb: (s: WatcherStatus) => void) => on("watcher-status", cb),
  focusChallenge: (cb: (e: FocusChallengeEvent) => void) => on("focus-challenge", cb),
  enrollRequest: (cb: (e: EnrollRequest) => void) => on("enroll-request", cb),
  enrollProgress: (cb: (e: EnrollProgressEvent) => void) => on("enroll-progress", cb),
  challengeAnswered: (cb: (c: ChallengeView) => void) => on("challenge-answered", cb),
  challengeRemoved: (cb: (e: ChallengeRemovedEvent) => void) => on("challenge-removed", cb),
  verificationChanged: (cb: (v: VerificationView) => void) => on("verification-changed", cb),
  relayedSignIn: (cb: (e: RelayedSignInEvent) => void) => on("relayed-sign-in", cb),
};

/** Subscribes to several events; the returned function unsubscribes all of them, also when it
 * is called before every `listen` has resolved (component destroyed early). */
export function subscribeAll(subs: Promise<UnlistenFn>[]): () => void {
  let stopped = false;
  const fns: UnlistenFn[] = [];
  for (const p of subs) {
    p.then(
      (fn) => (stopped ? fn() : fns.push(fn)),
      () => {
        /* no event bridge (e.g. plain browser): nothing to undo */
      },
    );
  }
  return () => {
    stopped = true;
    for (const fn of fns.splice(0)) {
      // Unlisten rejects or throws when the bridge is already gone (window closing); that
      // leaves nothing to undo.
      try {
        Promise.resolve(fn() as unknown).catch(() => undefined);
      } catch {
        /* already gone */
      }
    }
  };
}
