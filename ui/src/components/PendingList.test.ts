import { describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen } from "@testing-library/svelte";
import { tick } from "svelte";
import PendingList from "./PendingList.svelte";
import { PendingStore } from "../lib/state.svelte";
import { currentHold, type LayoutHold } from "../lib/hold";
import { challenge, mockBackend } from "../test/backend";
import type { ChallengeView } from "../lib/types";

const older = () =>
  challenge({ sid: "YC_OLD", message: "Older request", createdAt: new Date(Date.now() - 60_000).toISOString() });
const newer = () =>
  challenge({ sid: "YC_NEW", message: "Newer request", createdAt: new Date(Date.now() - 5_000).toISOString() });

async function settle() {
  await tick();
  await tick();
}

describe("PendingList", () => {
  it("shows the empty state when nothing is pending", () => {
    mockBackend({});
    render(PendingList, { store: new PendingStore() });
    expect(screen.getByTestId("no-pending")).toBeInTheDocument();
    expect(screen.queryByTestId("challenge-card")).toBeNull();
  });

  it("lists several cards newest first and focuses the newest when they arrive", async () => {
    mockBackend({});
    const store = new PendingStore();
    render(PendingList, { store });
    store.setChallenges([older(), newer()]);
    await settle();
    const cards = screen.getAllByTestId("challenge-card");
    expect(cards.map((c) => c.dataset.challengeSid)).toEqual(["YC_NEW", "YC_OLD"]);
    expect(document.activeElement).toBe(cards[0]);
    expect(screen.queryByTestId("no-pending")).toBeNull();
  });

  it("shows one card per account when two accounts' servers list the same challenge SID", async () => {
    mockBackend({});
    const store = new PendingStore();
    render(PendingList, { store });
    store.setChallenges([
      challenge({ sid: "YC_SAME", factorSid: "YF_BANK", message: "Bank sign-in" }),
      challenge({ sid: "YC_SAME", factorSid: "YF_SHOP", message: "Shop sign-in" }),
    ]);
    await settle();
    const cards = screen.getAllByTestId("challenge-card");
    expect(cards).toHaveLength(2);
    expect(screen.getByText("Bank sign-in")).toBeInTheDocument();
    expect(screen.getByText("Shop sign-in")).toBeInTheDocument();
  });

  it("does not steal focus from a text field when a request arrives", async () => {
    mockBackend({});
    const store = new PendingStore();
    const input = document.createElement("input");
    document.body.append(input);
    render(PendingList, { store });
    input.focus();
    store.setChallenges([newer()]);
    await settle();
    expect(document.activeElement).toBe(input);
    // An explicit focus-challenge still moves focus.
    store.requestFocus("YC_NEW");
    await settle();
    expect(document.activeElement).toBe(screen.getByTestId("challenge-card"));
    input.remove();
  });

  it("keeps an answered card with its result for a moment after the backend drops it, then removes it", async () => {
    vi.useFakeTimers();
    mockBackend({ approve_challenge: (a) => ({ ...newer(), sid: a.challengeSid, status: "approved" }) as ChallengeView });
    const store = new PendingStore(5000);
    render(PendingList, { store });
    store.setChallenges([older(), newer()]);
    await settle();
    const card = screen.getAllByTestId("challenge-card")[0];
    await fireEvent.click(card.querySelector("[data-testid=approve-button]")!);
    await vi.advanceTimersByTimeAsync(0);
    store.setChallenges([older()]);
    await settle();
    expect(screen.getAllByTestId("challenge-card")).toHaveLength(2);
    expect(screen.getByTestId("challenge-result").textContent).toMatch(/approved/);
    await vi.advanceTimersByTimeAsync(5000);
    await settle();
    expect(screen.getAllByTestId("challenge-card").map((c) => c.dataset.challengeSid)).toEqual(["YC_OLD"]);
  });

  it("shows a result from challenge-answered and removes an expired card after it hits zero", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date("2026-11-26T12:00:00Z"));
    mockBackend({});
    const store = new PendingStore(3000);
    render(PendingList, { store });
    store.setChallenges([
      challenge({ sid: "YC_A", createdAt: "2026-11-26T11:59:00Z", expiresAt: "2026-11-26T12:00:02Z" }),
      challenge({ sid: "YC_B", createdAt: "2026-11-26T11:58:00Z", expiresAt: "2026-11-26T12:05:00Z" }),
    ]);
    await settle();
    store.answered({ ...challenge({ sid: "YC_B" }), status: "denied" });
    await settle();
    const b = screen.getAllByTestId("challenge-card").find((c) => c.dataset.challengeSid === "YC_B")!;
    expect(b.querySelector("[data-testid=challenge-result]")!.textContent).toMatch(/denied/);

    await vi.advanceTimersByTimeAsync(2000);
    await settle();
    const a = screen.getAllByTestId("challenge-card").find((c) => c.dataset.challengeSid === "YC_A")!;
    expect(a.querySelector("[data-testid=challenge-result]")!.textContent).toMatch(/expired/i);
    await vi.advanceTimersByTimeAsync(3000);
    await settle();
    expect(screen.queryAllByTestId("challenge-card")).toHaveLength(0);
    expect(screen.getByTestId("no-pending")).toBeInTheDocument();
  });
});

describe("PendingList focus requests", () => {
  it("focuses a card whose focus-challenge arrived before the card itself", async () => {
    mockBackend({});
    const store = new PendingStore();
    const input = document.createElement("input");
    document.body.append(input);
    render(PendingList, { store });
    input.focus();
    store.requestFocus("YC_NEW");
    await settle();
    expect(document.activeElement).toBe(input);
    store.setChallenges([newer()]);
    await settle();
    expect(document.activeElement).toBe(screen.getByTestId("challenge-card"));
    input.remove();
  });

  it("gives the newest card focus when the window regains focus with nothing focused", async () => {
    mockBackend({});
    const store = new PendingStore();
    const input = document.createElement("input");
    document.body.append(input);
    input.focus();
    render(PendingList, { store });
    store.setChallenges([older(), newer()]);
    await settle();
    input.remove();
    expect(document.activeElement).toBe(document.body);
    window.dispatchEvent(new FocusEvent("focus"));
    await settle();
    expect(document.activeElement).toHaveAttribute("data-challenge-sid", "YC_NEW");
  });

  it("offers Deny all below the cards when one account has several requests", async () => {
    const calls = mockBackend({
      deny_all_challenges: () => ({ denied: [], failed: [] }),
    });
    const store = new PendingStore();
    render(PendingList, { store });
    store.setChallenges([
      challenge({ sid: "YC_A1", factorSid: "YF_A", accountName: "Bank", serverHost: "bank.example" }),
      challenge({ sid: "YC_B1", factorSid: "YF_B", accountName: "Shop" }),
    ]);
    await settle();
    expect(screen.queryByTestId("flood-bar")).toBeNull();
    store.setChallenges([
      challenge({ sid: "YC_A1", factorSid: "YF_A", accountName: "Bank", serverHost: "bank.example" }),
      challenge({ sid: "YC_A2", factorSid: "YF_A", accountName: "Bank", serverHost: "bank.example" }),
      challenge({ sid: "YC_B1", factorSid: "YF_B", accountName: "Shop" }),
    ]);
    await settle();
    const bars = screen.getAllByTestId("flood-bar");
    expect(bars).toHaveLength(1);
    expect(bars[0].dataset.factorSid).toBe("YF_A");
    expect(bars[0]).toHaveTextContent("2 requests are waiting for Bank from bank.example");
    // Every card comes before the bar in the document: it never pushes a card down.
    for (const c of screen.getAllByTestId("challenge-card")) {
      expect(c.compareDocumentPosition(bars[0]) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
    }
    await fireEvent.click(screen.getByTestId("deny-all-button"));
    await settle();
    expect(calls.filter((c) => c.cmd === "deny_all_challenges")).toEqual([
      { cmd: "deny_all_challenges", args: { factorSid: "YF_A", reason: "not_me" } },
    ]);
  });

  it("shows why Deny all could not deny some requests", async () => {
    mockBackend({
      deny_all_challenges: () => ({
        denied: [],
        failed: [{ sid: "YC_A2", error: { code: "network", message: "connection refused", server: null } }],
      }),
    });
    const store = new PendingStore();
    render(PendingList, { store });
    store.setChallenges([
      challenge({ sid: "YC_A1", factorSid: "YF_A" }),
      challenge({ sid: "YC_A2", factorSid: "YF_A" }),
    ]);
    await settle();
    await fireEvent.click(screen.getByTestId("deny-all-button"));
    await settle();
    expect(screen.getByTestId("deny-all-error")).toHaveAttribute("data-code", "network");
    expect(screen.getByTestId("deny-all-button")).not.toBeDisabled();
  });

  it("while the pointer is held still, a new card neither takes focus nor scrolls: a button offers it", async () => {
    mockBackend({});
    const release = vi.fn();
    currentHold.value = { engaged: true, release } as unknown as LayoutHold;
    try {
      const store = new PendingStore();
      render(PendingList, { store });
      store.setChallenges([older()]);
      await settle();
      const first = screen.getByTestId("challenge-card");
      first.querySelector<HTMLElement>("[data-testid=approve-button]")!.focus();
      const focused = document.activeElement;
      const scrolled = vi.fn();
      Element.prototype.scrollIntoView = scrolled;
      store.setChallenges([older(), newer()]);
      await settle();
      expect(document.activeElement).toBe(focused);
      expect(scrolled).not.toHaveBeenCalled();
      const pill = screen.getByTestId("new-requests-button");
      expect(pill).toHaveTextContent("1 new request");
      await fireEvent.click(pill);
      expect(release).toHaveBeenCalled();
      expect(document.activeElement).toBe(screen.getAllByTestId("challenge-card")[0]);
      expect(screen.queryByTestId("new-requests-button")).toBeNull();
    } finally {
      currentHold.value = null;
    }
  });
});
