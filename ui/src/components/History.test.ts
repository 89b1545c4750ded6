import { describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen } from "@testing-library/svelte";
import History from "./History.svelte";
import { account, appError, challenge, mockBackend } from "../test/backend";
import type { ChallengeView, HistoryPage } from "../lib/types";

function item(sid: string, status: ChallengeView["status"], message: string): ChallengeView {
  const { accountName: _drop, ...c } = challenge({ sid, message });
  return { ...c, status, respondedAt: status === "expired" ? null : c.createdAt };
}

const PAGES: Record<string, HistoryPage> = {
  first: { items: [item("YC1", "approved", "Sign in A"), item("YC2", "denied", "Sign in B")], nextPageToken: "p2", previousPageToken: null },
  p2: { items: [item("YC3", "expired", "<script>alert(1)</script>")], nextPageToken: null, previousPageToken: "p1" },
};

describe("History", () => {
  it("pages forward and back with the server's tokens", async () => {
    const calls = mockBackend({
      challenge_history: (a) => (a.pageToken === "p2" ? PAGES.p2 : PAGES.first),
    });
    const { container } = render(History, { account: account(), onback: vi.fn() });
    await vi.waitFor(() => expect(screen.getAllByTestId("history-item")).toHaveLength(2));
    expect(screen.getAllByTestId("history-item").map((i) => i.dataset.status)).toEqual(["approved", "denied"]);
    expect(screen.getByTestId("history-prev")).toBeDisabled();
    expect(screen.getByTestId("history-next")).toBeEnabled();

    await fireEvent.click(screen.getByTestId("history-next"));
    await vi.waitFor(() => expect(screen.getAllByTestId("history-item")).toHaveLength(1));
    const only = screen.getByTestId("history-item");
    expect(only.dataset.status).toBe("expired");
    expect(only).toHaveTextContent("<script>alert(1)</script>");
    expect(container.querySelector("script")).toBeNull();
    expect(screen.getByTestId("history-next")).toBeDisabled();
    expect(screen.getByTestId("history-prev")).toBeEnabled();

    await fireEvent.click(screen.getByTestId("history-prev"));
    await vi.waitFor(() => expect(screen.getAllByTestId("history-item")).toHaveLength(2));
    expect(calls.map((c) => c.args)).toEqual([
      { factorSid: "YF00000000000000000000000000000001" },
      { factorSid: "YF00000000000000000000000000000001", pageToken: "p2" },
      { factorSid: "YF00000000000000000000000000000001", pageToken: "p1" },
    ]);
  });

  it("shows an empty list and errors", async () => {
    mockBackend({ challenge_history: () => ({ items: [], nextPageToken: null, previousPageToken: null }) });
    const first = render(History, { account: account(), onback: vi.fn() });
    await vi.waitFor(() => expect(screen.getByTestId("history-list")).toBeInTheDocument());
    expect(screen.queryAllByTestId("history-item")).toHaveLength(0);
    expect(screen.getByText(/No answered or expired requests/)).toBeInTheDocument();
    first.unmount();

    mockBackend({ challenge_history: () => Promise.reject(appError("network", "connection refused")) });
    const onback = vi.fn();
    render(History, { account: account(), onback });
    const banner = await screen.findByTestId("error-banner");
    expect(banner).toHaveTextContent("Could not reach the server.");
    expect(banner).toHaveTextContent("connection refused");
    await fireEvent.click(screen.getByRole("button", { name: /Back/ }));
    expect(onback).toHaveBeenCalledOnce();
  });
});
