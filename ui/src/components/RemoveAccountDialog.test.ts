import { describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen } from "@testing-library/svelte";
import RemoveAccountDialog from "./RemoveAccountDialog.svelte";
import { account, appError, mockBackend } from "../test/backend";

describe("RemoveAccountDialog", () => {
  it("asks first, focuses Cancel, and cancels without removing", async () => {
    const calls = mockBackend({ remove_account: () => null });
    const onclose = vi.fn();
    render(RemoveAccountDialog, { account: account(), onclose });
    const dialog = screen.getByRole("alertdialog", { name: "Remove “Work laptop”?" });
    expect(dialog).toHaveAttribute("aria-modal", "true");
    expect(dialog).toHaveAccessibleDescription(/removes the account from the server/);
    expect(document.activeElement).toBe(screen.getByRole("button", { name: "Cancel" }));
    await fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(onclose).toHaveBeenCalledWith(false);
    expect(calls).toHaveLength(0);
  });

  it("Escape cancels and Tab stays inside", async () => {
    mockBackend({});
    const onclose = vi.fn();
    render(RemoveAccountDialog, { account: account(), onclose });
    const dialog = screen.getByRole("alertdialog");
    const confirm = screen.getByTestId("confirm-remove-button");
    confirm.focus();
    await fireEvent.keyDown(dialog, { key: "Tab" });
    expect(document.activeElement).toBe(screen.getByRole("button", { name: "Cancel" }));
    await fireEvent.keyDown(dialog, { key: "Escape" });
    expect(onclose).toHaveBeenCalledWith(false);
  });

  it("removes with remove_account {factorSid} after confirmation", async () => {
    const calls = mockBackend({ remove_account: () => null });
    const onclose = vi.fn();
    render(RemoveAccountDialog, { account: account(), onclose });
    await fireEvent.click(screen.getByTestId("confirm-remove-button"));
    await vi.waitFor(() => expect(onclose).toHaveBeenCalledWith(true));
    expect(calls).toEqual([{ cmd: "remove_account", args: { factorSid: "YF00000000000000000000000000000001" } }]);
  });

  it("stays open with the error when removal fails", async () => {
    mockBackend({ remove_account: () => Promise.reject(appError("keychain_locked", "collection is locked")) });
    const onclose = vi.fn();
    render(RemoveAccountDialog, { account: account(), onclose });
    await fireEvent.click(screen.getByTestId("confirm-remove-button"));
    const err = await screen.findByTestId("error-banner");
    expect(err).toHaveTextContent("The system keychain is locked.");
    expect(onclose).not.toHaveBeenCalled();
    expect(screen.getByTestId("confirm-remove-button")).toBeEnabled();
  });
});
