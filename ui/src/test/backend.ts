// Test helpers: contract-shaped fixtures and a mocked backend on top of the real
// `@tauri-apps/api/mocks` (commands through mockIPC, events through its event plugin mock).
import { mockIPC, mockWindows } from "@tauri-apps/api/mocks";
import { emit } from "@tauri-apps/api/event";
import type {
  Account,
  AppError,
  AppErrorCode,
  EnrollPreview,
  ErrorView,
  PendingChallenge,
  Settings,
  WatcherStatus,
} from "../lib/types";

export type Handler = (args: Record<string, unknown>) => unknown;

/** One recorded command call. */
export interface Call {
  cmd: string;
  args: Record<string, unknown>;
}

/** Installs the mock backend; unknown commands reject like a missing Tauri command. */
export function mockBackend(handlers: Record<string, Handler>): Call[] {
  const calls: Call[] = [];
  mockWindows("main");
  mockIPC(
    async (cmd, payload) => {
      const args = (payload ?? {}) as Record<string, unknown>;
      calls.push({ cmd, args });
      const h = handlers[cmd];
      if (!h) throw `command ${cmd} not found`;
      return await h(args);
    },
    { shouldMockEvents: true },
  );
  return calls;
}

/** Emits a backend event to the UI's listeners. */
export async function backendEmit(event: string, payload: unknown): Promise<void> {
  await emit(event, payload);
}

/** A promise that the test resolves or rejects by hand (to hold a command "in flight"). */
export function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export function account(over: Partial<Account> = {}): Account {
  return {
    factorSid: "YF00000000000000000000000000000001",
    friendlyName: "Work laptop",
    serviceSid: "VA00000000000000000000000000000001",
    identity: "alice",
    status: "verified",
    baseUrl: "http://127.0.0.1:8790/v2/",
    createdAt: "2026-11-20T10:00:00Z",
    lastActivityAt: null,
    problem: null,
    quietedUntil: null,
    origin: null,
    silentAllowed: false,
    ...over,
  };
}

export function challenge(over: Partial<PendingChallenge> = {}): PendingChallenge {
  const created = new Date(Date.now() - 10_000);
  const expires = new Date(created.getTime() + 300_000);
  return {
    sid: "YC00000000000000000000000000000001",
    factorSid: "YF00000000000000000000000000000001",
    status: "pending",
    message: "Sign in to Example Bank",
    fields: [
      { label: "Location", value: "Berlin, DE" },
      { label: "Browser", value: "Firefox on Linux" },
    ],
    createdAt: created.toISOString(),
    expiresAt: expires.toISOString(),
    respondedAt: null,
    match: null,
    accountName: "Work laptop",
    serverHost: "bank.example",
    ...over,
  };
}

export function settings(over: Partial<Settings> = {}): Settings {
  return {
    pollIntervalSecs: 5,
    idlePollIntervalSecs: 60,
    notificationsEnabled: true,
    startAtLogin: false,
    pausedUntil: null,
    ...over,
  };
}

export function watcher(over: Partial<WatcherStatus> = {}): WatcherStatus {
  return { online: true, paused: false, lastPollAt: null, lastError: null, clockWarnings: [], ...over };
}

/** What `preview_enroll_payload` answers for a valid payload (the backend parses it). */
export function enrollPreview(over: Partial<EnrollPreview> = {}): EnrollPreview {
  return {
    identity: "alice",
    serviceSid: "VA00000000000000000000000000000001",
    baseUrl: "http://127.0.0.1:8790",
    factorType: "push",
    origin: null,
    serviceName: null,
    userName: null,
    accountName: "127.0.0.1:8790 (alice)",
    existingAccount: null,
    ...over,
  };
}

/** An error as the backend sends it (also what `toAppError` passes through). */
export function appError(code: AppErrorCode, message: string, server: AppError["server"] = null): ErrorView {
  return { code, message, server };
}
