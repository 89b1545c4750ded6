// Small rune-based stores: the pending-challenge list (with answered cards kept on screen for a
// moment) and the app-wide state the window shows.
import { tick } from "svelte";
import { SvelteSet } from "svelte/reactivity";
import { api, events, subscribeAll } from "./ipc";
import type {
  Account,
  AppError,
  AppInfo,
  ChallengeRemovedEvent,
  ChallengeView,
  EnrollRequest,
  PendingChallenge,
  RelayedSignInEvent,
  Settings,
  VerificationView,
  WatcherStatus,
} from "./types";

/** How a card ended. "error" here is final (e.g. answered elsewhere); retryable errors stay in
 * the card. */
export interface Outcome {
  /** "answered": answered elsewhere, and how is not known (yet). */
  status: "approved" | "denied" | "expired" | "error" | "answered";
  error?: AppError;
  /** Answered outside this window (another device, or the `assent` command). */
  elsewhere?: boolean;
}

/** One card in the pending list. */
export interface PendingEntry {
  challenge: PendingChallenge;
  outcome: Outcome | null;
}

/** Why focus should move to a card. */
export interface FocusRequest {
  sid: string;
  /** "arrived": a new card appeared (do not steal focus from a text field); "requested": the
   * backend asked (notification or tray item activated). */
  reason: "arrived" | "requested";
  seq: number;
}

/** How long an answered or expired card stays visible before it goes away. */
export const LINGER_MS = 6000;

/** A card's identity: two accounts' servers may list the same challenge SID, so the SID
 * alone would let one card stand in for another. */
export function cardKey(c: { factorSid: string; sid: string }): string {
  return `${c.factorSid}/${c.sid}`;
}

function newestFirst(a: PendingEntry, b: PendingEntry): number {
  return Date.parse(b.challenge.createdAt) - Date.parse(a.challenge.createdAt);
}

/** Pending challenges as cards: the backend's list plus recently settled cards. */
export class PendingStore {
  current = $state<PendingChallenge[]>([]);
  settled = $state<Record<string, PendingEntry>>({});
  focusRequest = $state<FocusRequest | null>(null);
  readonly gone = new SvelteSet<string>();
  readonly lingerMs: number;
  private seen = new Set<string>();
  private timers = new Map<string, ReturnType<typeof setTimeout>>();
  private seq = 0;

  constructor(lingerMs = LINGER_MS) {
    this.lingerMs = lingerMs;
  }

  /** Cards to show, newest first. */
  entries: PendingEntry[] = $derived.by(() => {
    const out: PendingEntry[] = [];
    const listed = new Set<string>();
    for (const c of this.current) {
      const key = cardKey(c);
      if (this.gone.has(key)) continue;
      listed.add(key);
      out.push(this.settled[key] ?? { challenge: c, outcome: null });
    }
    for (const [key, e] of Object.entries(this.settled)) {
      if (!listed.has(key) && !this.gone.has(key)) out.push(e);
    }
    return out.sort(newestFirst);
  });

  /** Replaces the backend list; a challenge never seen before asks for focus. */
  setChallenges(list: PendingChallenge[]): void {
    const fresh = list.filter((c) => !this.seen.has(cardKey(c)));
    for (const c of fresh) this.seen.add(cardKey(c));
    this.current = list;
    // A notification click that arrived before its card wins over "a card arrived".
    const asked = this.focusRequest;
    if (asked?.reason === "requested" && fresh.some((c) => c.sid === asked.sid)) return;
    if (fresh.length) {
      const newest = [...fresh].sort(
        (a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt),
      )[0];
      this.focusRequest = { sid: newest.sid, reason: "arrived", seq: ++this.seq };
    }
  }

  /** The backend asked to show a challenge (notification clicked). */
  requestFocus(sid: string): void {
    this.focusRequest = { sid, reason: "requested", seq: ++this.seq };
  }

  /** A card (by [`cardKey`]) reached a final state: keep it visible with its result for a
   * moment. */
  settle(key: string, outcome: Outcome): void {
    const challenge =
      this.current.find((c) => cardKey(c) === key) ?? this.settled[key]?.challenge ?? null;
    if (!challenge || this.gone.has(key)) return;
    this.settled[key] = { challenge, outcome };
    const old = this.timers.get(key);
    if (old) clearTimeout(old);
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        this.gone.add(key);
        delete this.settled[key];
      }, this.lingerMs),
    );
  }

  /** `challenge-removed`: a card answered elsewhere says so at once (`challenge-answered`,
   * right after, tells how). */
  removed(e: ChallengeRemovedEvent): void {
    if (e.reason !== "answered_elsewhere") return;
    const key = cardKey(e);
    if (this.settled[key]?.outcome || this.gone.has(key)) return;
    this.settle(key, { status: "answered", elsewhere: true });
  }

  /** `challenge-answered`: shows the result on the card if it is on screen. Returns whether
   * this was news (not already shown by the card that answered it). */
  answered(view: ChallengeView): boolean {
    if (view.status === "pending") return false;
    const key = cardKey(view);
    if (this.gone.has(key)) return false;
    const prior = this.settled[key]?.outcome;
    if (prior?.elsewhere && prior.status === "answered") {
      // Keep the card's moment on screen; only say how it was answered.
      this.settled[key] = { ...this.settled[key], outcome: { status: view.status, elsewhere: true } };
      return false;
    }
    if (prior) return false;
    const known = this.current.some((c) => cardKey(c) === key);
    this.settle(key, { status: view.status });
    return known;
  }

  /** Stops pending timers (window teardown, tests). */
  dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}

/** Which page the window shows under the pending cards. */
export type View =
  | { kind: "home" }
  | { kind: "history"; account: Account }
  | { kind: "enroll"; request: EnrollRequest | null; seq: number }
  | { kind: "settings" };

/** Everything the window shows, fed by commands at start and by events afterwards. */
export class AppState {
  accounts = $state<Account[]>([]);
  readonly pending: PendingStore;
  watcher = $state<WatcherStatus | null>(null);
  settings = $state<Settings | null>(null);
  verification = $state<VerificationView | null>(null);
  /** Relayed (phished) sign-ins Assent blocked, newest first, until dismissed. */
  relayed = $state<RelayedSignInEvent[]>([]);
  info = $state<AppInfo | null>(null);
  error = $state<AppError | null>(null);
  loaded = $state(false);
  view = $state<View>({ kind: "home" });
  /** A deep link that arrived while the add-account form was open (offered, not swapped in). */
  waitingEnroll = $state<EnrollRequest | null>(null);
  announcement = $state("");
  now = $state(Date.now());
  private seq = 0;

  constructor(pending = new PendingStore()) {
    this.pending = pending;
  }

  /** Loads the initial state. Each part fails on its own; the first error goes to the banner. */
  async load(): Promise<void> {
    const results = await Promise.allSettled([
      api.listAccounts().then((a) => (this.accounts = a)),
      api.pendingChallenges().then((p) => this.pending.setChallenges(p)),
      api.watcherStatus().then((w) => (this.watcher = w)),
      api.getSettings().then((s) => (this.settings = s)),
      api.appInfo().then((i) => (this.info = i)),
    ]);
    const failed = results.find((r) => r.status === "rejected");
    if (failed && failed.status === "rejected") this.error = failed.reason as AppError;
    try {
      this.verification = await api.verificationStatus();
    } catch {
      /* unknown: every card then asks the backend, which says when a PIN is needed */
    }
    this.loaded = true;
    // A deep link that started the app (before anyone listened) still needs confirmation.
    try {
      const early = await api.takeEnrollRequest();
      if (isEnrollRequest(early)) this.openEnroll(early);
    } catch {
      /* nothing waiting, or an older backend without the command */
    }
    await this.reportReady();
  }

  /** Tells the backend this page shows its data (it keeps a new window off screen until then)
   * and focuses the card the window was opened for, if any. */
  private async reportReady(): Promise<void> {
    await tick();
    try {
      const missed = await api.pageReady();
      for (const r of [...missed.relayed].reverse()) this.noteRelayed(r);
      if (missed.focusChallengeSid) this.pending.requestFocus(missed.focusChallengeSid);
    } catch {
      /* the backend shows the window by itself after a while */
    }
  }

  /** Shows a relayed (phished) sign-in that was blocked, newest first. */
  noteRelayed(e: RelayedSignInEvent): void {
    this.relayed = [e, ...this.relayed.filter((r) => r.challengeSid !== e.challengeSid)].slice(0, 5);
    this.announce(`Blocked a sign-in to ${e.accountName} from ${e.origin}.`);
  }

  /** Ends a pause from any screen (the paused banner): the stored settings with
   * `pausedUntil` cleared. The backend then sends the new `watcher-status`. */
  async resumeNotifications(): Promise<void> {
    const current = await api.getSettings();
    this.settings = await api.updateSettings({ ...current, pausedUntil: null });
  }

  /** A new request and an answer are activity: the backend records them but sends no new
   * account list (listing reads the keychain), so "last activity" follows here. Never moves a
   * time backwards. */
  touchAccount(factorSid: string, at: string | null): void {
    const t = at ?? new Date(this.now).toISOString();
    this.accounts = this.accounts.map((a) =>
      a.factorSid === factorSid && (!a.lastActivityAt || Date.parse(a.lastActivityAt) < Date.parse(t))
        ? { ...a, lastActivityAt: t }
        : a,
    );
  }

  /** Subscribes to every backend event; returns the unsubscribe function. */
  subscribe(): () => void {
    return subscribeAll([
      events.accountsChanged((a) => (this.accounts = a)),
      events.challengesChanged((p) => {
        this.pending.setChallenges(p);
        // The watcher records a new request as its account's activity, at its creation time.
        for (const c of p) this.touchAccount(c.factorSid, c.createdAt);
      }),
      events.watcherStatus((w) => (this.watcher = w)),
      events.focusChallenge((e) => this.pending.requestFocus(e.challengeSid)),
      events.enrollRequest((e) => {
        if (isEnrollRequest(e)) this.openEnroll(e);
      }),
      events.verificationChanged((v) => (this.verification = v)),
      events.relayedSignIn((e) => this.noteRelayed(e)),
      events.challengeRemoved((e) => {
        this.pending.removed(e);
        if (e.reason === "answered_elsewhere") this.announce("Sign-in request answered on another device.");
      }),
      events.challengeAnswered((c) => {
        this.touchAccount(c.factorSid, c.respondedAt);
        if (this.pending.answered(c)) this.announce(`Sign-in request ${c.status}.`);
      }),
    ]);
  }

  /** Whether approving this account's requests asks for the app PIN. */
  needsPin(factorSid: string): boolean {
    const v = this.verification;
    if (!v?.enabled || !v.scope) return false;
    return v.scope.kind === "all" || v.scope.factorSids.includes(factorSid);
  }

  /** Opens the add-account page: empty for pasting, or confirming a deep link's preview. A
   * link arriving while the form is open waits beside it (the form says so) unless `replace`:
   * the user may be reading or typing in the open one. */
  openEnroll(request: EnrollRequest | null = null, replace = false): void {
    const v = this.view;
    // The same request again (event and take_enroll_request racing): keep the open form.
    if (request && v.kind === "enroll" && v.request?.requestId === request.requestId) return;
    if (request && v.kind === "enroll" && !replace) {
      this.waitingEnroll = request;
      return;
    }
    if (request && this.waitingEnroll?.requestId === request.requestId) this.waitingEnroll = null;
    this.view = { kind: "enroll", request, seq: ++this.seq };
  }

  /** Leaves the add-account page; a link that waited opens next. */
  closeEnroll(): void {
    const next = this.waitingEnroll;
    this.waitingEnroll = null;
    this.view = { kind: "home" };
    if (next) this.openEnroll(next);
  }

  /** Says something to screen readers through the app's aria-live region. */
  announce(text: string): void {
    // Clearing first makes a repeated identical message be read again.
    this.announcement = "";
    queueMicrotask(() => (this.announcement = text));
  }

  /** Refreshes `now` for relative times; returns the stop function. */
  startClock(everyMs = 15_000): () => void {
    const id = setInterval(() => (this.now = Date.now()), everyMs);
    return () => clearInterval(id);
  }
}

/** Whether a backend value is an enrolment request preview (ignores anything else). */
function isEnrollRequest(v: unknown): v is EnrollRequest {
  return !!v && typeof v === "object" && typeof (v as { requestId?: unknown }).requestId === "string";
}
