import { describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen, within } from "@testing-library/svelte";
import AccountList from "./AccountList.svelte";
import { account } from "../test/backend";

const NOW = Date.parse("2026-11-26T12:00:00Z");

describe("AccountList", () => {
  it("shows name, service, identity, status, last activity and a missing-key badge", () => {
    const accounts = [
      account({ lastActivityAt: "2026-11-26T11:55:00Z" }),
      account({
        factorSid: "YF2",
        friendlyName: "<img src=x onerror=alert(1)>",
        identity: "bob",
        status: "unverified",
        problem: "key_missing",
      }),
    ];
    const { container } = render(AccountList, { accounts, now: NOW, onhistory: vi.fn(), onremove: vi.fn(), onadd: vi.fn() });
    const items = screen.getAllByTestId("account-item");
    expect(items.map((i) => i.dataset.factorSid)).toEqual(["YF00000000000000000000000000000001", "YF2"]);
    const first = within(items[0]);
    expect(first.getByTestId("account-name")).toHaveTextContent("Work laptop");
    expect(items[0]).toHaveTextContent("VA00000000000000000000000000000001");
    expect(items[0]).toHaveTextContent("alice");
    expect(items[0]).toHaveTextContent("Verified");
    expect(items[0]).toHaveTextContent("5 min ago");
    expect(first.queryByTestId("account-problem")).toBeNull();

    const second = within(items[1]);
    expect(second.getByTestId("account-name").textContent).toBe("<img src=x onerror=alert(1)>");
    expect(container.querySelector("img")).toBeNull();
    expect(items[1]).toHaveTextContent("Unverified");
    expect(items[1]).toHaveTextContent("none yet");
    expect(second.getByTestId("account-problem")).toHaveTextContent("Key missing");
  });

  it("calls back for history, remove and add", async () => {
    const onhistory = vi.fn();
    const onremove = vi.fn();
    const onadd = vi.fn();
    const a = account();
    render(AccountList, { accounts: [a], now: NOW, onhistory, onremove, onadd });
    await fireEvent.click(screen.getByTestId("history-button"));
    await fireEvent.click(screen.getByTestId("remove-account-button"));
    await fireEvent.click(screen.getByTestId("add-account-button"));
    expect(onhistory).toHaveBeenCalledWith(a);
    expect(onremove).toHaveBeenCalledWith(a);
    expect(onadd).toHaveBeenCalledOnce();
    expect(screen.getByRole("button", { name: "Remove Work laptop" })).toBeInTheDocument();
  });

  it("invites to add the first account when there is none", async () => {
    const onadd = vi.fn();
    render(AccountList, { accounts: [], now: NOW, onhistory: vi.fn(), onremove: vi.fn(), onadd });
    expect(screen.getByTestId("account-list")).toHaveTextContent("No accounts yet");
    await fireEvent.click(screen.getByRole("button", { name: /Add your first account/ }));
    expect(onadd).toHaveBeenCalledOnce();
  });

  it("says an account is quieted, until when and why, only while it is", () => {
    const accounts = [
      account({ quietedUntil: "2026-11-26T12:20:00Z" }),
      account({ factorSid: "YF2", quietedUntil: "2026-11-26T11:00:00Z" }),
    ];
    render(AccountList, { accounts, now: NOW, onhistory: vi.fn(), onremove: vi.fn(), onadd: vi.fn() });
    const items = screen.getAllByTestId("account-item");
    expect(within(items[0]).getByTestId("account-quieted")).toHaveTextContent("Quiet until");
    expect(within(items[0]).getByTestId("account-quieted-text")).toHaveTextContent("not yours");
    expect(within(items[1]).queryByTestId("account-quieted")).toBeNull();
  });

  it("shows the enrolled website with a silent-approval switch that calls back", async () => {
    const onsilent = vi.fn();
    const accounts = [
      account({ origin: "https://bank.example", silentAllowed: false }),
      account({ factorSid: "YF2", origin: null }),
    ];
    render(AccountList, { accounts, now: NOW, onhistory: vi.fn(), onremove: vi.fn(), onadd: vi.fn(), onsilent });
    const items = screen.getAllByTestId("account-item");
    expect(within(items[0]).getByTestId("account-origin")).toHaveTextContent("https://bank.example");
    const sw = within(items[0]).getByTestId("silent-switch") as HTMLInputElement;
    expect(sw.checked).toBe(false);
    await fireEvent.click(sw);
    expect(onsilent).toHaveBeenCalledWith(accounts[0], true);
    // Without an enrolled origin there is nothing to switch on.
    expect(within(items[1]).queryByTestId("silent-switch")).toBeNull();
    expect(within(items[1]).queryByTestId("account-origin")).toBeNull();
  });
});
