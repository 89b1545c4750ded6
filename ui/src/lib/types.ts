// The IPC contract with src-tauri (docs/design.md "src-tauri ↔ ui"). The backend's types are
// generated from the Rust types into ./bindings (never edit those; scripts/check-bindings.sh
// regenerates them); this module re-exports them under the names the UI uses and adds the
// UI-only ones. Every field is camelCase JSON; dates are RFC 3339 UTC strings.
import type { AppErrorCode } from "./bindings/AppErrorCode";
import type { EnrollRequestView } from "./bindings/EnrollRequestView";
import type { ErrorView } from "./bindings/ErrorView";

export type { Account } from "./bindings/Account";
export type { AppErrorCode } from "./bindings/AppErrorCode";
export type { AppInfo } from "./bindings/AppInfo";
export type { ChallengeView } from "./bindings/ChallengeView";
export type { EnrollPreview } from "./bindings/EnrollPreview";
export type { EnrollProgressEvent } from "./bindings/EnrollProgressEvent";
export type { EnrollStep } from "./bindings/EnrollStep";
export type { ErrorView } from "./bindings/ErrorView";
export type { Field } from "./bindings/Field";
export type { FocusChallengeEvent } from "./bindings/FocusChallengeEvent";
export type { ChallengeRemovedEvent } from "./bindings/ChallengeRemovedEvent";
export type { RemovalReason } from "./bindings/RemovalReason";
export type { HistoryPage } from "./bindings/HistoryPage";
export type { PendingChallenge } from "./bindings/PendingChallenge";
export type { Settings } from "./bindings/Settings";
export type { WatcherStatus } from "./bindings/WatcherStatus";
export type { RelayedSignInEvent } from "./bindings/RelayedSignInEvent";
export type { PageHandover } from "./bindings/PageHandover";
export type { EndpointStatus } from "./bindings/EndpointStatus";
export type { DenyReason } from "./bindings/DenyReason";
export type { DenyAllReport } from "./bindings/DenyAllReport";
export type { VerificationView } from "./bindings/VerificationView";
/** Which accounts ask for the app PIN on Approve. */
export type { Scope as VerificationScope } from "./bindings/Scope";
/** The number matching a relying party asked for: the mode and, for "choose", the numbers to
 * pick from. Never the code. */
export type { MatchView as MatchRequest } from "./bindings/MatchView";
/** The Verify API's own error body, kept whole. */
export type { ServerErrorView as ServerError } from "./bindings/ServerErrorView";

/** A stable error code: one of the backend's, or "internal" when the IPC bridge itself failed
 * (a missing command, no bridge; see `toAppError`). */
export type ErrorCode = AppErrorCode | "internal";

/** What every command rejects with: the backend's error, or a bridge failure. */
export type AppError = Omit<ErrorView, "code"> & { code: ErrorCode };

/** A valid deep link waiting for confirmation: what it would add. Never the link or token.
 * (`error?: undefined` lets the UI tell the two kinds apart with `request.error`.) */
export type EnrollRequestPreview = Extract<EnrollRequestView, { identity: string }> & { error?: undefined };

/** A deep link that cannot be enrolled, and why (the message never contains the token). */
export type EnrollRequestInvalid = Extract<EnrollRequestView, { error: unknown }>;

/** Payload of `enroll-request` and result of `take_enroll_request` (a deep link arrived). */
export type EnrollRequest = EnrollRequestPreview | EnrollRequestInvalid;
