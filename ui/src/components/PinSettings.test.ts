import { describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import PinSettings from "./PinSettings.svelte";
import { account, appError, mockBackend } from "../test/backend";
import type { VerificationView } from "../lib/types";

const off: VerificationView = { enabled: false, scope: null, lockedUntil: null, failures: 0 };
const onAll: VerificationView = { enabled: true, scope: { kind: "all" }, lockedUntil: null, failures: 0 };

describe("PinSettings", () => {
  it("sets a PIN only when it has 6+ digits and is repeated, for the chosen accounts", async () => {
    const calls = mockBackend({
      set_pin: (a) => ({ enabled: true, scope: a.scope, lockedUntil: null, failures: 0 }),
    });
    const onchanged = vi.fn();
    const user = userEvent.setup();
    render(PinSettings, {
      verification: off,
      accounts: [account(), account({ factorSid: "YF2", friendlyName: "Shop" })],
      onchanged,
    });
    const save = screen.getByTestId("pin-save");
    expect(save).toBeDisabled();
    await user.type(screen.getByTestId("pin-new"), "12345");
    await user.type(screen.getByTestId("pin-repeat"), "12345");
    expect(screen.getByTestId("pin-form-hint")).toHaveTextContent("6 to 32 digits");
    expect(save).toBeDisabled();
    await user.type(screen.getByTestId("pin-new"), "6");
    expect(screen.getByTestId("pin-form-hint")).toHaveTextContent("differ");
    await user.type(screen.getByTestId("pin-repeat"), "6");
    await fireEvent.click(screen.getByTestId("pin-scope-chosen"));
    expect(save).toBeDisabled();
    const boxes = screen.getAllByTestId("pin-account");
    await fireEvent.click(boxes[1]);
    expect(save).toBeEnabled();
    await fireEvent.click(save);
    await vi.waitFor(() => expect(onchanged).toHaveBeenCalled());
    expect(calls[0]).toEqual({
      cmd: "set_pin",
      args: { pin: "123456", scope: { kind: "accounts", factorSids: ["YF2"] } },
    });
    expect(screen.getByTestId("pin-new")).toHaveValue("");
  });

  it("needs the current PIN to change the scope or turn it off, and shows a lock", async () => {
    const calls = mockBackend({
      remove_pin: () => Promise.reject(appError("pin_wrong", "wrong PIN; 4 more wrong tries lock approving for a while")),
    });
    const user = userEvent.setup();
    render(PinSettings, {
      verification: { ...onAll, lockedUntil: "2030-01-01T10:00:00Z", failures: 5 },
      accounts: [account()],
    });
    expect(screen.getByTestId("pin-state")).toHaveTextContent("On for all accounts");
    expect(screen.getByTestId("pin-locked")).toHaveTextContent("Locked until");
    expect(screen.getByTestId("pin-remove")).toBeDisabled();
    expect(screen.getByTestId("pin-save")).toBeDisabled();
    await user.type(screen.getByTestId("pin-current"), "999999");
    await fireEvent.click(screen.getByTestId("pin-remove"));
    expect(await screen.findByTestId("pin-error")).toHaveAttribute("data-code", "pin_wrong");
    expect(calls[0]).toEqual({ cmd: "remove_pin", args: { pin: "999999" } });
    expect(screen.getByTestId("pin-current")).toHaveValue("");
  });
});
