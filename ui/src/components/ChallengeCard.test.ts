import { describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { flushSync, tick } from "svelte";
import ChallengeCard from "./ChallengeCard.svelte";
import { appError, challenge, deferred, mockBackend } from "../test/backend";
import type { ChallengeView } from "../lib/types";

const XSS = [
  "<img src=x onerror=alert(1)>",
  "<script>alert(1)</script>",
  '"><svg onload=alert(1)>',
  "javascript:alert(1)",
  "<a href=\"javascript:alert(1)\">click</a>",
  "{@html '<b>x</b>'}",
];

function answered(status: ChallengeView["status"]): ChallengeView {
  const c = challenge();
  return { ...c, status, respondedAt: new Date().toISOString() };
}

describe("ChallengeCard", () => {
  it("renders message, account and every field as plain text", () => {
    mockBackend({});
    render(ChallengeCard, { challenge: challenge() });
    expect(screen.getByTestId("challenge-message")).toHaveTextContent("Sign in to Example Bank");
    expect(screen.getByTestId("challenge-account")).toHaveTextContent("Work laptop");
    const fields = screen.getAllByTestId("challenge-field");
    expect(fields).toHaveLength(2);
    expect(fields[0].querySelector("[data-testid=challenge-field-label]")).toHaveTextContent("Location");
    expect(fields[0].querySelector("[data-testid=challenge-field-value]")).toHaveTextContent("Berlin, DE");
    expect(fields[1].querySelector("[data-testid=challenge-field-label]")).toHaveTextContent("Browser");
  });

  it.each(XSS)("shows %s verbatim and creates no elements from it", (payload) => {
    mockBackend({});
    const { container } = render(ChallengeCard, {
      challenge: challenge({
        message: payload,
        accountName: payload,
        fields: [{ label: payload, value: payload }],
      }),
    });
    expect(screen.getByTestId("challenge-message").textContent).toBe(payload);
    expect(screen.getByTestId("challenge-account").textContent).toBe(payload);
    expect(screen.getByTestId("challenge-field-label").textContent).toBe(payload);
    expect(screen.getByTestId("challenge-field-value").textContent).toBe(payload);
    expect(container.querySelector("img, script, a, b")).toBeNull();
    // Only the card's own icons are SVG; none came from the payload.
    expect(container.querySelector("svg[onload]")).toBeNull();
    for (const el of container.querySelectorAll("*")) {
      for (const attr of el.getAttributeNames()) expect(attr.startsWith("on")).toBe(false);
    }
  });

  it("counts down every second, turns urgent in the last 30 s and expires", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date("2026-11-26T12:00:00Z"));
    mockBackend({});
    const onsettled = vi.fn();
    const announce = vi.fn();
    render(ChallengeCard, {
      challenge: challenge({ createdAt: "2026-11-26T11:59:00Z", expiresAt: "2026-11-26T12:00:32Z" }),
      onsettled,
      announce,
    });
    const countdown = screen.getByTestId("challenge-countdown");
    expect(countdown).toHaveTextContent("00:32");
    expect(countdown).not.toHaveClass("urgent");

    await vi.advanceTimersByTimeAsync(1000);
    expect(screen.getByTestId("challenge-countdown")).toHaveTextContent("00:31");
    await vi.advanceTimersByTimeAsync(1000);
    expect(screen.getByTestId("challenge-countdown")).toHaveTextContent("00:30");
    expect(screen.getByTestId("challenge-countdown")).toHaveClass("urgent");
    expect(screen.getByTestId("challenge-card")).toHaveClass("urgent");
    await tick();
    // Not the lead card: it stays quiet (see the countdown announcement test).
    expect(screen.getByTestId("countdown-announcement")).toHaveTextContent("");

    await vi.advanceTimersByTimeAsync(30_000);
    flushSync();
    expect(screen.queryByTestId("challenge-countdown")).toBeNull();
    expect(screen.getByTestId("challenge-result")).toHaveTextContent(/expired/i);
    expect(screen.queryByTestId("approve-button")).toBeNull();
    expect(onsettled).toHaveBeenCalledWith({ status: "expired" });
  });

  it("approves with camelCase args, disables both buttons while in flight, then shows the result", async () => {
    const pending = deferred<ChallengeView>();
    const calls = mockBackend({ approve_challenge: () => pending.promise });
    const onsettled = vi.fn();
    render(ChallengeCard, { challenge: challenge(), onsettled });

    await fireEvent.click(screen.getByTestId("approve-button"));
    expect(calls).toEqual([
      { cmd: "approve_challenge", args: { factorSid: "YF00000000000000000000000000000001", challengeSid: "YC00000000000000000000000000000001" } },
    ]);
    expect(screen.getByTestId("approve-button")).toBeDisabled();
    expect(screen.getByTestId("deny-button")).toBeDisabled();
    expect(screen.getByTestId("challenge-card")).toHaveAttribute("aria-busy", "true");
    // A second click while in flight sends nothing.
    await fireEvent.click(screen.getByTestId("approve-button"));
    expect(calls).toHaveLength(1);

    pending.resolve(answered("approved"));
    await vi.waitFor(() => expect(screen.getByTestId("challenge-result")).toHaveTextContent(/approved/i));
    expect(screen.getByTestId("challenge-result").textContent).toMatch(/approved/);
    expect(onsettled).toHaveBeenCalledWith({ status: "approved" });
    expect(screen.queryByTestId("approve-button")).toBeNull();
  });

  it.each([
    ["deny-button", "This wasn't me", "not_me"],
    ["deny-mistake-button", "It was a mistake", "mistake"],
  ])("%s (%s) denies with reason %s", async (testid, label, reason) => {
    const calls = mockBackend({ deny_challenge: () => answered("denied") });
    render(ChallengeCard, { challenge: challenge() });
    expect(screen.getByTestId(testid)).toHaveTextContent(label);
    await fireEvent.click(screen.getByTestId(testid));
    await vi.waitFor(() => expect(screen.getByTestId("challenge-result").textContent).toMatch(/denied/));
    expect(calls).toEqual([
      {
        cmd: "deny_challenge",
        args: { factorSid: "YF00000000000000000000000000000001", challengeSid: "YC00000000000000000000000000000001", reason },
      },
    ]);
  });

  it("choose mode: three numbers, Approve disabled until one is picked, the pick is sent", async () => {
    const calls = mockBackend({ approve_challenge: () => answered("approved") });
    render(ChallengeCard, { challenge: challenge({ match: { mode: "choose", choices: ["12", "47", "90"] } }) });
    const choices = screen.getAllByTestId("match-choice");
    expect(choices.map((c) => c.textContent)).toEqual(["12", "47", "90"]);
    expect(screen.queryByTestId("match-input")).toBeNull();
    expect(screen.getByTestId("approve-button")).toBeDisabled();
    // A click on the disabled button sends nothing.
    await fireEvent.click(screen.getByTestId("approve-button"));
    expect(calls).toHaveLength(0);

    await fireEvent.click(choices[2]);
    expect(choices[2]).toHaveAttribute("aria-pressed", "true");
    await fireEvent.click(choices[1]);
    expect(choices[1]).toHaveAttribute("aria-pressed", "true");
    expect(choices[2]).toHaveAttribute("aria-pressed", "false");
    expect(screen.getByTestId("approve-button")).toBeEnabled();
    await fireEvent.click(screen.getByTestId("approve-button"));
    await vi.waitFor(() => expect(screen.getByTestId("challenge-result").textContent).toMatch(/approved/));
    expect(calls).toEqual([
      {
        cmd: "approve_challenge",
        args: { factorSid: "YF00000000000000000000000000000001", challengeSid: "YC00000000000000000000000000000001", code: "47" },
      },
    ]);
  });

  it("type mode: Approve enabled only for two digits, the typed number is sent", async () => {
    const calls = mockBackend({ approve_challenge: () => answered("approved") });
    const user = userEvent.setup();
    render(ChallengeCard, { challenge: challenge({ match: { mode: "type" } }) });
    expect(screen.queryAllByTestId("match-choice")).toHaveLength(0);
    const input = screen.getByLabelText("Type the number the sign-in page shows");
    expect(input).toBe(screen.getByTestId("match-input"));
    expect(screen.getByTestId("approve-button")).toBeDisabled();
    await user.type(input, "4");
    expect(screen.getByTestId("approve-button")).toBeDisabled();
    await user.type(input, "x");
    expect(screen.getByTestId("approve-button")).toBeDisabled();
    await user.clear(input);
    await user.type(input, "07");
    expect(screen.getByTestId("approve-button")).toBeEnabled();
    await fireEvent.click(screen.getByTestId("approve-button"));
    await vi.waitFor(() => expect(calls).toHaveLength(1));
    expect(calls[0].args).toEqual({
      factorSid: "YF00000000000000000000000000000001",
      challengeSid: "YC00000000000000000000000000000001",
      code: "07",
    });
  });

  it("a wrong number ends the card as denied and says why", async () => {
    mockBackend({
      approve_challenge: () =>
        Promise.reject(appError("wrong_match", "the number did not match the sign-in page, so the sign-in was denied")),
    });
    const onsettled = vi.fn();
    const announce = vi.fn();
    render(ChallengeCard, { challenge: challenge({ match: { mode: "choose", choices: ["12", "47", "90"] } }), onsettled, announce });
    await fireEvent.click(screen.getAllByTestId("match-choice")[0]);
    await fireEvent.click(screen.getByTestId("approve-button"));
    await vi.waitFor(() => expect(onsettled).toHaveBeenCalledWith(expect.objectContaining({ status: "denied" })));
    expect(screen.getByTestId("challenge-result")).toHaveTextContent(/denied/);
    expect(screen.getByTestId("challenge-result-reason")).toHaveTextContent("did not match");
    expect(announce).toHaveBeenCalledWith(expect.stringContaining("did not match"));
    expect(screen.queryByTestId("approve-button")).toBeNull();
  });

  it("says why a wrong number denied it even when the answered event came first", async () => {
    const reply = deferred<ChallengeView>();
    mockBackend({ approve_challenge: () => reply.promise });
    const c = challenge({ match: { mode: "choose", choices: ["12", "47", "90"] } });
    const { rerender } = render(ChallengeCard, { challenge: c });
    await fireEvent.click(screen.getAllByTestId("match-choice")[0]);
    await fireEvent.click(screen.getByTestId("approve-button"));
    // The backend's challenge-answered (status only) reaches the list before the command's
    // wrong_match error.
    await rerender({ challenge: c, outcome: { status: "denied" } });
    reply.reject(appError("wrong_match", "the number did not match the sign-in page, so the sign-in was denied"));
    await vi.waitFor(() => expect(screen.getByTestId("challenge-result-reason")).toHaveTextContent("did not match"));
    expect(screen.getByTestId("challenge-result")).toHaveTextContent(/denied/);
  });

  it("a challenge without matching shows no number picker and approves without a code", async () => {
    const calls = mockBackend({ approve_challenge: () => answered("approved") });
    render(ChallengeCard, { challenge: challenge({ match: null }) });
    expect(screen.queryByTestId("match")).toBeNull();
    await fireEvent.click(screen.getByTestId("approve-button"));
    await vi.waitFor(() => expect(calls).toHaveLength(1));
    expect(calls[0].args).not.toHaveProperty("code");
  });

  it("asks for the PIN when the account needs it: Approve waits for 6+ digits, the PIN is sent", async () => {
    let wrong = true;
    const calls = mockBackend({
      approve_challenge: () =>
        wrong ? Promise.reject(appError("pin_wrong", "wrong PIN; 4 more wrong tries lock approving for a while")) : answered("approved"),
      deny_challenge: () => answered("denied"),
    });
    const user = userEvent.setup();
    render(ChallengeCard, { challenge: challenge(), needsPin: true });
    const input = screen.getByLabelText("Your Assent PIN, to approve");
    expect(input).toHaveAttribute("type", "password");
    const approve = screen.getByTestId("approve-button");
    expect(approve).toBeDisabled();
    expect(screen.getByTestId("deny-button")).toBeEnabled();
    await user.type(input, "12345");
    expect(approve).toBeDisabled();
    await user.type(input, "6");
    expect(approve).toBeEnabled();
    await fireEvent.click(approve);
    await screen.findByTestId("challenge-result");
    expect(calls[0].args).toEqual({
      factorSid: "YF00000000000000000000000000000001",
      challengeSid: "YC00000000000000000000000000000001",
      pin: "123456",
    });
    // A wrong PIN clears the field and says so; nothing else changes.
    expect(screen.getByTestId("challenge-result")).toHaveTextContent("That PIN is not right");
    expect(input).toHaveValue("");
    expect(screen.getByTestId("approve-button")).toBeDisabled();
    wrong = false;
    await user.type(input, "246810{Enter}");
    await vi.waitFor(() => expect(screen.getByTestId("challenge-result").textContent).toMatch(/approved/));
    expect(calls[1].args).toMatchObject({ pin: "246810" });
  });

  it("never asks for a PIN to deny, and sends none when the account needs none", async () => {
    const calls = mockBackend({ approve_challenge: () => answered("approved") });
    render(ChallengeCard, { challenge: challenge() });
    expect(screen.queryByTestId("pin-input")).toBeNull();
    await fireEvent.click(screen.getByTestId("approve-button"));
    await vi.waitFor(() => expect(calls).toHaveLength(1));
    expect(calls[0].args).not.toHaveProperty("pin");
  });

  it("shows a retryable error with the server code and re-enables the buttons", async () => {
    let fail = true;
    mockBackend({
      approve_challenge: () =>
        fail
          ? Promise.reject(
              appError("server", "Verify API error", { code: 20500, message: "Internal server error", moreInfo: null, status: 500 }),
            )
          : answered("approved"),
    });
    const onsettled = vi.fn();
    render(ChallengeCard, { challenge: challenge(), onsettled });
    await fireEvent.click(screen.getByTestId("approve-button"));
    const result = await screen.findByTestId("challenge-result");
    expect(result.textContent).toMatch(/error/);
    expect(result).toHaveTextContent("Internal server error");
    expect(result).toHaveTextContent("code 20500");
    expect(result).toHaveTextContent("HTTP 500");
    expect(screen.getByTestId("approve-button")).toBeEnabled();
    expect(onsettled).not.toHaveBeenCalled();

    fail = false;
    await fireEvent.click(screen.getByTestId("approve-button"));
    await vi.waitFor(() => expect(screen.getByTestId("challenge-result").textContent).toMatch(/approved/));
  });

  it("treats expired_challenge as expired and already_responded as a final error", async () => {
    mockBackend({ approve_challenge: () => Promise.reject(appError("expired_challenge", "expired")) });
    const first = render(ChallengeCard, { challenge: challenge() });
    await fireEvent.click(screen.getByTestId("approve-button"));
    await vi.waitFor(() => expect(screen.getByTestId("challenge-result").textContent).toMatch(/expired/i));
    first.unmount();

    mockBackend({ deny_challenge: () => Promise.reject(appError("already_responded", "already answered")) });
    const onsettled = vi.fn();
    render(ChallengeCard, { challenge: challenge(), onsettled });
    await fireEvent.click(screen.getByTestId("deny-button"));
    await vi.waitFor(() => expect(onsettled).toHaveBeenCalledWith(expect.objectContaining({ status: "error" })));
    expect(screen.getByTestId("challenge-result").textContent).toMatch(/error/);
    expect(screen.queryByTestId("deny-button")).toBeNull();
  });

  it("labels the card and buttons for screen readers and is keyboard operable", async () => {
    const calls = mockBackend({ approve_challenge: () => answered("approved") });
    render(ChallengeCard, { challenge: challenge() });
    const card = screen.getByRole("article", { name: /Sign-in request for Work laptop/ });
    expect(card).toHaveAccessibleDescription("Sign in to Example Bank");
    const approve = screen.getByRole("button", { name: "Approve" });
    expect(approve).toHaveAccessibleDescription("Sign in to Example Bank");
    expect(screen.getByRole("timer")).toHaveAttribute("aria-label", expect.stringMatching(/^Expires in 4 minutes 50 seconds$/));
    // Native buttons: Enter/Space activate them; a keyboard "click" goes through the same path.
    approve.focus();
    expect(document.activeElement).toBe(approve);
    await fireEvent.click(approve);
    await vi.waitFor(() => expect(calls).toHaveLength(1));
  });

  it("can be answered with the keyboard alone: Tab from the focused card, then Enter", async () => {
    const calls = mockBackend({ deny_challenge: () => answered("denied"), approve_challenge: () => answered("approved") });
    const user = userEvent.setup();
    render(ChallengeCard, { challenge: challenge() });
    screen.getByTestId("challenge-card").focus();
    await user.tab();
    expect(document.activeElement).toBe(screen.getByTestId("deny-button"));
    await user.tab();
    expect(document.activeElement).toBe(screen.getByTestId("deny-mistake-button"));
    await user.tab();
    expect(document.activeElement).toBe(screen.getByTestId("approve-button"));
    await user.keyboard("{Enter}");
    await vi.waitFor(() => expect(screen.getByTestId("challenge-result").textContent).toMatch(/approved/));
    expect(calls.map((c) => c.cmd)).toEqual(["approve_challenge"]);
  });

  it("shows an outcome decided elsewhere", () => {
    mockBackend({});
    render(ChallengeCard, { challenge: challenge(), outcome: { status: "denied" } });
    expect(screen.getByTestId("challenge-result").textContent).toMatch(/denied/);
    expect(screen.queryByTestId("approve-button")).toBeNull();
  });

  it("the lead card tells screen readers the time left at coarse steps only, politely", async () => {
    vi.useFakeTimers({ now: Date.parse("2026-11-26T11:58:00Z") });
    mockBackend({});
    render(ChallengeCard, {
      challenge: challenge({ createdAt: "2026-11-26T11:57:00Z", expiresAt: "2026-11-26T12:00:30Z" }),
      speakCountdown: true,
    });
    const live = screen.getByTestId("countdown-announcement");
    expect(live).toHaveAttribute("aria-live", "polite");
    expect(live).toHaveAttribute("aria-atomic", "true");
    // The region's text over the request's 150 s, sampled every second.
    const heard: string[] = [];
    for (let i = 0; i < 150; i++) {
      const t = live.textContent ?? "";
      if (heard[heard.length - 1] !== t) heard.push(t);
      await vi.advanceTimersByTimeAsync(1000);
    }
    expect(heard.filter((t) => t !== "")).toEqual([
      "Sign-in request for Work laptop: 2 minutes left.",
      "Sign-in request for Work laptop: 1 minute left.",
      "Sign-in request for Work laptop: 30 seconds left.",
      "Sign-in request for Work laptop: 10 seconds left.",
    ]);
    // The per-second countdown itself is a timer (not live): it is read on demand only.
    expect(screen.queryByTestId("challenge-countdown")?.getAttribute("aria-live") ?? null).toBeNull();
  });
});
