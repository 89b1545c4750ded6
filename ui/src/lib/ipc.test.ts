import { describe, expect, it, vi } from "vitest";
import { api, events, subscribeAll, toAppError } from "./ipc";
import { backendEmit, mockBackend } from "../test/backend";

describe("toAppError", () => {
  it("keeps a backend AppError", () => {
    const e = { code: "server", message: "nope", server: { code: 60317, message: "bad", moreInfo: null, status: 400 } };
    expect(toAppError(e)).toEqual(e);
  });
  it("wraps strings and Errors", () => {
    expect(toAppError("command x not found")).toEqual({ code: "internal", message: "command x not found", server: null });
    expect(toAppError(new Error("boom")).message).toBe("boom");
  });
});

describe("api", () => {
  it("sends camelCase args for every command", async () => {
    const calls = mockBackend({
      approve_challenge: () => ({}),
      deny_challenge: () => ({}),
      challenge_history: () => ({ items: [], nextPageToken: null, previousPageToken: null }),
      enroll: () => ({}),
      confirm_enroll_request: () => ({}),
      dismiss_enroll_request: () => null,
      remove_account: () => null,
      update_settings: (a) => a.settings,
    });
    await api.approveChallenge("YF1", "YC1");
    await api.denyChallenge("YF1", "YC2");
    await api.approveChallenge("YF1", "YC3", "07");
    await api.denyChallenge("YF1", "YC4", "mistake");
    await api.challengeHistory("YF1");
    await api.challengeHistory("YF1", "tok");
    await api.enroll("payload");
    await api.enroll("payload", "Name");
    await api.confirmEnrollRequest("req-1");
    await api.confirmEnrollRequest("req-1", "Name");
    await api.dismissEnrollRequest("req-1");
    await api.removeAccount("YF1");
    await api.updateSettings({ pollIntervalSecs: 5, idlePollIntervalSecs: 60, notificationsEnabled: true, startAtLogin: false, pausedUntil: null });
    expect(calls.map((c) => [c.cmd, c.args])).toEqual([
      ["approve_challenge", { factorSid: "YF1", challengeSid: "YC1" }],
      ["deny_challenge", { factorSid: "YF1", challengeSid: "YC2" }],
      ["approve_challenge", { factorSid: "YF1", challengeSid: "YC3", code: "07" }],
      ["deny_challenge", { factorSid: "YF1", challengeSid: "YC4", reason: "mistake" }],
      ["challenge_history", { factorSid: "YF1" }],
      ["challenge_history", { factorSid: "YF1", pageToken: "tok" }],
      ["enroll", { payload: "payload" }],
      ["enroll", { payload: "payload", friendlyName: "Name" }],
      ["confirm_enroll_request", { requestId: "req-1" }],
      ["confirm_enroll_request", { requestId: "req-1", friendlyName: "Name" }],
      ["dismiss_enroll_request", { requestId: "req-1" }],
      ["remove_account", { factorSid: "YF1" }],
      ["update_settings", { settings: { pollIntervalSecs: 5, idlePollIntervalSecs: 60, notificationsEnabled: true, startAtLogin: false, pausedUntil: null } }],
    ]);
  });

  it("rejects with an AppError", async () => {
    mockBackend({ list_accounts: () => Promise.reject({ code: "storage", message: "disk full", server: null }) });
    await expect(api.listAccounts()).rejects.toEqual({ code: "storage", message: "disk full", server: null });
    await expect(api.appInfo()).rejects.toMatchObject({ code: "internal" });
  });
});

describe("events", () => {
  it("delivers payloads and stops after unsubscribe", async () => {
    mockBackend({});
    const seen = vi.fn();
    const stop = subscribeAll([events.focusChallenge(seen)]);
    await Promise.resolve();
    await new Promise((r) => setTimeout(r, 0));
    await backendEmit("focus-challenge", { challengeSid: "YC9" });
    expect(seen).toHaveBeenCalledWith({ challengeSid: "YC9" });
    stop();
    await backendEmit("focus-challenge", { challengeSid: "YC10" });
    expect(seen).toHaveBeenCalledTimes(1);
  });
});
