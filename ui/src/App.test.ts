import { describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen, within } from "@testing-library/svelte";
import App from "./App.svelte";
import { AppState } from "./lib/state.svelte";
import { account, backendEmit, challenge, mockBackend, settings, watcher, type Handler } from "./test/backend";
import type { AppInfo } from "./lib/types";

function backend(over: Record<string, Handler> = {}, info: Partial<AppInfo> = {}) {
  return mockBackend({
    list_accounts: () => [account()],
    pending_challenges: () => [],
    watcher_status: () => watcher({ lastPollAt: new Date().toISOString() }),
    get_settings: () => settings(),
    app_info: () => ({
      version: "0.1.0",
      demoUrl: null,
      logDir: "/tmp/logs",
      localEndpoint: { state: "listening", addr: "127.0.0.1:7375" },
      ...info,
    }),
    ...over,
  });
}

async function ready() {
  await vi.waitFor(() => expect(screen.getByTestId("account-list")).toBeInTheDocument());
  // Let the event listeners register.
  await new Promise((r) => setTimeout(r, 0));
}

describe("App", () => {
  it("loads accounts and shows no pending requests", async () => {
    backend();
    render(App);
    await ready();
    expect(screen.getByTestId("account-name")).toHaveTextContent("Work laptop");
    expect(screen.getByTestId("no-pending")).toBeInTheDocument();
    expect(screen.queryByTestId("open-demo-button")).toBeNull();
    expect(screen.queryByTestId("offline-banner")).toBeNull();
  });

  it("shows the open demo button only when app_info has a demo URL", async () => {
    const calls = backend({ open_demo_site: () => null }, { demoUrl: "http://127.0.0.1:8790/demo/" });
    render(App);
    await ready();
    await fireEvent.click(screen.getByTestId("open-demo-button"));
    await vi.waitFor(() => expect(calls.some((c) => c.cmd === "open_demo_site")).toBe(true));
  });

  it("follows backend events: challenges, focus-challenge, watcher-status, accounts", async () => {
    backend();
    render(App);
    await ready();

    await backendEmit("challenges-changed", [
      challenge({ sid: "YC_1", message: "First", createdAt: new Date(Date.now() - 30_000).toISOString() }),
      challenge({ sid: "YC_2", message: "Second", createdAt: new Date(Date.now() - 10_000).toISOString() }),
    ]);
    await vi.waitFor(() => expect(screen.getAllByTestId("challenge-card")).toHaveLength(2));
    await vi.waitFor(() => expect(document.activeElement).toHaveAttribute("data-challenge-sid", "YC_2"));

    await backendEmit("focus-challenge", { challengeSid: "YC_1" });
    await vi.waitFor(() => expect(document.activeElement).toHaveAttribute("data-challenge-sid", "YC_1"));

    await backendEmit("watcher-status", watcher({ online: false, lastError: { code: "network", message: "refused", server: null } }));
    await vi.waitFor(() => expect(screen.getByTestId("offline-banner")).toBeInTheDocument());
    expect(screen.getByTestId("watcher-chip")).toHaveTextContent("Offline");
    await backendEmit("watcher-status", watcher());
    await vi.waitFor(() => expect(screen.queryByTestId("offline-banner")).toBeNull());
    expect(screen.getByTestId("watcher-chip")).toHaveTextContent("Watching");

    await backendEmit("watcher-status", watcher({ lastError: { code: "keychain_locked", message: "locked", server: null } }));
    await vi.waitFor(() => expect(screen.getByTestId("watcher-chip")).toHaveTextContent("Keychain locked"));
    await backendEmit("watcher-status", watcher({ lastError: { code: "keychain_unavailable", message: "gone", server: null } }));
    await vi.waitFor(() => expect(screen.getByTestId("watcher-chip")).toHaveTextContent("No keychain"));
    await backendEmit("watcher-status", watcher());
    await vi.waitFor(() => expect(screen.getByTestId("watcher-chip")).toHaveTextContent("Watching"));

    await backendEmit("accounts-changed", [account(), account({ factorSid: "YF9", friendlyName: "Second account" })]);
    await vi.waitFor(() => expect(screen.getAllByTestId("account-item")).toHaveLength(2));
  });

  it("keeps an account's last activity live: a new request, then its answer", async () => {
    const created = new Date(Date.now() - 5_000).toISOString();
    const answered = new Date(Date.now() - 1_000).toISOString();
    backend({ list_accounts: () => [account({ lastActivityAt: "2026-01-01T00:00:00Z" })] });
    const app = new AppState();
    render(App, { app });
    await ready();
    const shown = () => screen.getByTestId("account-last-activity").getAttribute("datetime");
    expect(shown()).toBe("2026-01-01T00:00:00Z");
    const c = challenge({ createdAt: created });
    await backendEmit("challenges-changed", [c]);
    await vi.waitFor(() => expect(shown()).toBe(created));
    await backendEmit("challenge-answered", { ...c, status: "approved", respondedAt: answered });
    await vi.waitFor(() => expect(shown()).toBe(answered));
    // An older request listed later does not move it back.
    await backendEmit("challenges-changed", [challenge({ sid: "YC_old", createdAt: "2026-01-02T00:00:00Z" })]);
    await new Promise((r) => setTimeout(r, 0));
    expect(shown()).toBe(answered);
    app.pending.dispose();
  });

  it("announces an answered challenge in the live region", async () => {
    backend({ approve_challenge: (a) => ({ ...challenge(), sid: a.challengeSid, status: "approved" }) });
    const app = new AppState();
    render(App, { app });
    await ready();
    await backendEmit("challenges-changed", [challenge()]);
    const card = await screen.findByTestId("challenge-card");
    await fireEvent.click(within(card).getByTestId("approve-button"));
    await vi.waitFor(() => expect(screen.getByTestId("live-region")).toHaveTextContent("Sign-in for Work laptop approved."));
    app.pending.dispose();
  });

  it("a request answered elsewhere says so on its card, then how it was answered", async () => {
    backend();
    const app = new AppState();
    render(App, { app });
    await ready();
    const c = challenge();
    await backendEmit("challenges-changed", [c]);
    const card = await screen.findByTestId("challenge-card");
    await backendEmit("challenge-removed", { factorSid: c.factorSid, sid: c.sid, reason: "answered_elsewhere" });
    await backendEmit("challenge-answered", { ...c, status: "denied" });
    await backendEmit("challenges-changed", []);
    await vi.waitFor(() => expect(within(card).getByTestId("challenge-result")).toHaveTextContent("Answered on another device"));
    expect(within(card).getByTestId("challenge-result-reason")).toHaveTextContent("Denied outside this window");
    expect(within(card).queryByTestId("approve-button")).toBeNull();
    expect(screen.getByTestId("live-region")).toHaveTextContent("answered on another device");
    app.pending.dispose();
  });

  it("a request answered here or expired does not claim another device", async () => {
    backend();
    const app = new AppState();
    render(App, { app });
    await ready();
    const c = challenge();
    await backendEmit("challenges-changed", [c]);
    const card = await screen.findByTestId("challenge-card");
    await backendEmit("challenge-removed", { factorSid: c.factorSid, sid: c.sid, reason: "expired" });
    await backendEmit("challenge-answered", { ...c, status: "expired" });
    await vi.waitFor(() => expect(within(card).getByTestId("challenge-result")).toHaveTextContent("Request expired"));
    expect(card).not.toHaveTextContent("another device");
    app.pending.dispose();
  });

  it("opens the enrol form from an enroll-request preview and confirms without the token", async () => {
    // The backend's side of a deep link: it keeps the link and only emits a preview.
    const token = "eyJhbGciOi.kept-in-rust.sig";
    const link = `assent://enroll?token=${token}&serviceSid=VA1&identity=bob&factorType=push&baseUrl=https%3A%2F%2Fx.example%2Fv2%2F`;
    const kept = new Map([["req-bob", link]]);
    const calls = backend({
      confirm_enroll_request: (a) => {
        expect(kept.has(a.requestId as string)).toBe(true);
        return account({ factorSid: "YF_NEW", friendlyName: "New", identity: "bob" });
      },
    });
    render(App);
    await ready();
    await backendEmit("enroll-request", {
      requestId: "req-bob",
      identity: "bob",
      serviceSid: "VA1",
      baseUrl: "https://x.example",
      factorType: "push",
    });
    const preview = await screen.findByLabelText("What will be added");
    expect(preview).toHaveTextContent("bob");
    expect(preview).toHaveTextContent("https://x.example");
    expect(screen.queryByTestId("enroll-input")).toBeNull();
    expect(calls.some((c) => c.cmd === "confirm_enroll_request" || c.cmd === "enroll")).toBe(false);
    await fireEvent.click(screen.getByTestId("enroll-submit"));
    await vi.waitFor(() => expect(screen.getAllByTestId("account-item")).toHaveLength(2));
    expect(calls.filter((c) => c.cmd === "confirm_enroll_request")).toEqual([
      { cmd: "confirm_enroll_request", args: { requestId: "req-bob" } },
    ]);
    expect(calls.some((c) => c.cmd === "enroll")).toBe(false);
    expect(JSON.stringify(calls)).not.toContain(token);
    expect(document.body.innerHTML).not.toContain(token);
  });

  it("a second link does not replace the form being read: it waits, said below the buttons", async () => {
    const calls = backend({ dismiss_enroll_request: () => null });
    render(App);
    await ready();
    const link = (id: string, identity: string) => ({
      requestId: id,
      identity,
      serviceSid: "VA1",
      baseUrl: "https://x.example",
      factorType: "push",
    });
    await backendEmit("enroll-request", link("req-1", "alice"));
    const preview = await screen.findByLabelText("What will be added");
    const submit = screen.getByTestId("enroll-submit");
    await backendEmit("enroll-request", link("req-2", "mallory"));
    const waiting = await screen.findByTestId("enroll-waiting");
    expect(waiting).toHaveTextContent("Another enrolment link arrived for mallory on x.example");
    // The form still shows the first link, with the same Confirm button, above the notice.
    expect(preview).toHaveTextContent("alice");
    expect(preview).not.toHaveTextContent("mallory");
    expect(screen.getByTestId("enroll-submit")).toBe(submit);
    expect(submit.compareDocumentPosition(waiting) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
    // Cancel the first: the waiting one opens next, as its own form.
    await fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
    await vi.waitFor(() => expect(screen.getByLabelText("What will be added")).toHaveTextContent("mallory"));
    expect(screen.queryByTestId("enroll-waiting")).toBeNull();
    expect(calls.filter((c) => c.cmd === "dismiss_enroll_request")).toEqual([
      { cmd: "dismiss_enroll_request", args: { requestId: "req-1" } },
    ]);
  });

  it("'Show it instead' switches to the waiting link", async () => {
    backend();
    render(App);
    await ready();
    const link = (id: string, identity: string) => ({
      requestId: id,
      identity,
      serviceSid: "VA1",
      baseUrl: "https://x.example",
      factorType: "push",
    });
    await backendEmit("enroll-request", link("req-1", "alice"));
    await screen.findByLabelText("What will be added");
    await backendEmit("enroll-request", link("req-2", "bob"));
    await fireEvent.click(await screen.findByTestId("enroll-show-waiting"));
    await vi.waitFor(() => expect(screen.getByLabelText("What will be added")).toHaveTextContent("bob"));
    expect(screen.queryByTestId("enroll-waiting")).toBeNull();
  });

  it("warns about a relayed sign-in, naming the page's origin, until dismissed", async () => {
    backend();
    render(App);
    await ready();
    await backendEmit("relayed-sign-in", {
      factorSid: "YF00000000000000000000000000000001",
      accountName: "Work laptop",
      challengeSid: "YC_RELAYED",
      origin: "https://bank.example.evil",
      expectedOrigin: "https://bank.example",
      denied: true,
    });
    const warning = await screen.findByTestId("relayed-warning");
    expect(warning).toHaveTextContent("Blocked a sign-in from the wrong website");
    expect(screen.getByTestId("relayed-origin")).toHaveTextContent("https://bank.example.evil");
    expect(warning).toHaveTextContent("belongs to https://bank.example");
    expect(warning).toHaveTextContent("Assent denied it.");
    await fireEvent.click(screen.getByTestId("relayed-dismiss"));
    expect(screen.queryByTestId("relayed-warning")).toBeNull();
  });

  it("ignores an enroll-request that is not a preview", async () => {
    backend();
    render(App);
    await ready();
    await backendEmit("enroll-request", { payload: "assent://enroll?token=t" });
    await new Promise((r) => setTimeout(r, 0));
    expect(screen.queryByLabelText("What will be added")).toBeNull();
    expect(screen.getByTestId("account-list")).toBeInTheDocument();
  });

  it("opens the enrol form for a deep link that arrived before the page listened", async () => {
    const calls = backend({
      take_enroll_request: () => ({
        requestId: "req-carol",
        identity: "carol",
        serviceSid: "VA2",
        baseUrl: "https://verify.twilio.com",
        factorType: "push",
      }),
    });
    render(App);
    const preview = await screen.findByLabelText("What will be added");
    expect(preview).toHaveTextContent("carol");
    expect(screen.queryByTestId("enroll-input")).toBeNull();
    expect(calls.filter((c) => c.cmd === "take_enroll_request")).toHaveLength(1);
    expect(calls.some((c) => c.cmd === "enroll" || c.cmd === "confirm_enroll_request")).toBe(false);
  });

  it("reports the page ready once its data is on screen and focuses the card it was opened for", async () => {
    let cardsAtReady = -1;
    const calls = backend({
      pending_challenges: () => [
        challenge({ sid: "YC_old", message: "Older", createdAt: new Date(Date.now() - 60_000).toISOString() }),
        challenge({ sid: "YC_tray", message: "From the tray", createdAt: new Date(Date.now() - 90_000).toISOString() }),
      ],
      page_ready: () => {
        cardsAtReady = screen.queryAllByTestId("challenge-card").length;
        return { focusChallengeSid: "YC_tray", relayed: [] };
      },
    });
    render(App);
    await vi.waitFor(() => expect(document.activeElement).toHaveAttribute("data-challenge-sid", "YC_tray"));
    // The backend shows a new window on page_ready: by then the cards must be rendered.
    expect(cardsAtReady).toBe(2);
    expect(calls.filter((c) => c.cmd === "page_ready")).toHaveLength(1);
  });

  it("still works when the backend has nothing to hand over on page_ready", async () => {
    const calls = backend({ page_ready: () => ({ focusChallengeSid: null, relayed: [] }) });
    render(App);
    await ready();
    await vi.waitFor(() => expect(calls.some((c) => c.cmd === "page_ready")).toBe(true));
    expect(document.activeElement?.hasAttribute("data-challenge-sid") ?? false).toBe(false);
    expect(screen.queryByText(/Blocked/)).toBeNull();
  });

  it("shows a relayed sign-in that was blocked while the window was closed", async () => {
    backend({
      page_ready: () => ({
        focusChallengeSid: null,
        relayed: [
          {
            factorSid: "YF1",
            accountName: "Bank",
            challengeSid: "YC_relayed",
            origin: "http://phish.example",
            expectedOrigin: "https://bank.example",
            denied: true,
          },
        ],
      }),
    });
    render(App);
    await ready();
    await vi.waitFor(() => expect(screen.getByTestId("relayed-warning")).toBeInTheDocument());
    expect(screen.getByTestId("relayed-origin")).toHaveTextContent("http://phish.example");
  });

  it("removes an account after confirmation and opens history and settings", async () => {
    const calls = backend({
      remove_account: () => null,
      challenge_history: () => ({ items: [], nextPageToken: null, previousPageToken: null }),
    });
    render(App);
    await ready();
    await fireEvent.click(screen.getByTestId("history-button"));
    await vi.waitFor(() => expect(screen.getByTestId("history-list")).toBeInTheDocument());
    await fireEvent.click(screen.getByRole("button", { name: /Back/ }));
    await fireEvent.click(screen.getByTestId("settings-button"));
    await vi.waitFor(() => expect(screen.getByTestId("settings-poll-interval")).toHaveValue(5));
    expect(screen.getByTestId("endpoint-status")).toHaveTextContent("listening on 127.0.0.1:7375");
    await fireEvent.click(screen.getByTestId("settings-button"));

    await fireEvent.click(await screen.findByTestId("remove-account-button"));
    expect(calls.some((c) => c.cmd === "remove_account")).toBe(false);
    await fireEvent.click(screen.getByTestId("confirm-remove-button"));
    await vi.waitFor(() => expect(screen.queryByTestId("account-item")).toBeNull());
    expect(calls.filter((c) => c.cmd === "remove_account")).toEqual([
      { cmd: "remove_account", args: { factorSid: "YF00000000000000000000000000000001" } },
    ]);
  });

  it("shows a load failure in the error banner", async () => {
    backend({ list_accounts: () => Promise.reject({ code: "storage", message: "factors.json unreadable", server: null }) });
    render(App);
    const banner = await screen.findByTestId("error-banner");
    expect(banner).toHaveTextContent("factors.json unreadable");
  });
});
