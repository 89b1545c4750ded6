import { describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen } from "@testing-library/svelte";
import SettingsView from "./Settings.svelte";
import { appError, mockBackend, settings, watcher } from "../test/backend";
import type { Settings } from "../lib/types";

describe("Settings", () => {
  it("loads, edits and saves the settings (round trip)", async () => {
    let stored = settings();
    const calls = mockBackend({
      get_settings: () => stored,
      update_settings: (a) => (stored = a.settings as Settings),
    });
    const onsaved = vi.fn();
    render(SettingsView, { watcher: watcher(), onback: vi.fn(), onsaved });
    const poll = screen.getByTestId("settings-poll-interval") as HTMLInputElement;
    await vi.waitFor(() => expect(poll.value).toBe("5"));
    expect(screen.getByTestId("settings-notifications")).toBeChecked();
    expect(screen.getByTestId("settings-autostart")).not.toBeChecked();
    expect(screen.getByTestId("settings-save")).toBeDisabled();

    await fireEvent.input(poll, { target: { value: "12" } });
    await fireEvent.click(screen.getByTestId("settings-notifications"));
    await fireEvent.click(screen.getByTestId("settings-autostart"));
    await fireEvent.click(screen.getByTestId("settings-save"));
    await vi.waitFor(() => expect(onsaved).toHaveBeenCalled());
    const expected = { ...settings(), pollIntervalSecs: 12, notificationsEnabled: false, startAtLogin: true };
    expect(calls[calls.length - 1]).toEqual({ cmd: "update_settings", args: { settings: expected } });
    expect(onsaved).toHaveBeenCalledWith(expected);
    expect(screen.getByRole("status")).toHaveTextContent("Settings saved.");
    expect(screen.getByTestId("settings-save")).toBeDisabled();
  });

  it("rejects an out-of-range interval before saving", async () => {
    const calls = mockBackend({ get_settings: () => settings(), update_settings: (a) => a.settings });
    render(SettingsView, { onback: vi.fn() });
    const poll = screen.getByTestId("settings-poll-interval") as HTMLInputElement;
    await vi.waitFor(() => expect(poll.value).toBe("5"));
    await fireEvent.input(poll, { target: { value: "0" } });
    expect(poll).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByTestId("settings-save")).toBeDisabled();
    await fireEvent.input(poll, { target: { value: "90" } });
    expect(poll).toHaveAttribute("aria-invalid", "false");
    // Idle (60 s) may not be shorter than active polling (90 s).
    expect(screen.getByLabelText("When idle, check every (seconds)")).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByTestId("settings-save")).toBeDisabled();
    expect(calls.filter((c) => c.cmd === "update_settings")).toHaveLength(0);
  });

  it("shows and changes the pause state, named as the tray names it", async () => {
    let stored = settings({ pausedUntil: "forever" });
    const calls = mockBackend({ get_settings: () => stored, update_settings: (a) => (stored = a.settings as Settings) });
    render(SettingsView, { watcher: watcher({ paused: true }), onback: vi.fn() });
    expect(screen.getByRole("group", { name: "Pause notifications" })).toHaveTextContent("Requests still appear in this window");
    await vi.waitFor(() =>
      expect(screen.getByTestId("pause-state")).toHaveTextContent("Notifications are paused until you resume them"),
    );
    await fireEvent.click(screen.getByRole("button", { name: "Resume notifications" }));
    await vi.waitFor(() => expect(screen.getByTestId("pause-state")).toHaveTextContent("Notifications are on"));
    expect(calls[calls.length - 1]?.args).toEqual({ settings: settings({ pausedUntil: null }) });
    await fireEvent.click(screen.getByRole("button", { name: "For 1 hour" }));
    await vi.waitFor(() => expect(screen.getByTestId("pause-state")).toHaveTextContent("Notifications are paused until"));
    const until = (calls[calls.length - 1]?.args.settings as Settings).pausedUntil!;
    expect(Date.parse(until) - Date.now()).toBeGreaterThan(3500_000);
  });

  it("follows a resume from the banner or the tray without losing form edits", async () => {
    let stored = settings({ pausedUntil: "forever" });
    mockBackend({ get_settings: () => stored });
    const { rerender } = render(SettingsView, { watcher: watcher({ paused: true }), onback: vi.fn() });
    await vi.waitFor(() => expect(screen.getByTestId("pause-state")).toHaveTextContent("paused until you resume"));
    const poll = screen.getByLabelText("Check every (seconds)");
    await fireEvent.input(poll, { target: { value: "7" } });
    stored = settings({ pausedUntil: null });
    await rerender({ watcher: watcher({ paused: false }) });
    await vi.waitFor(() => expect(screen.getByTestId("pause-state")).toHaveTextContent("Notifications are on"));
    expect(poll).toHaveValue(7);
  });

  it("does not call an expired pause a pause", async () => {
    mockBackend({ get_settings: () => settings({ pausedUntil: "2020-01-01T00:00:00Z" }) });
    render(SettingsView, { watcher: watcher({ paused: false }), onback: vi.fn() });
    await vi.waitFor(() => expect(screen.getByTestId("pause-state")).toHaveTextContent("Notifications are on"));
  });

  it("shows a load error", async () => {
    mockBackend({ get_settings: () => Promise.reject(appError("storage", "settings.json is corrupt")) });
    render(SettingsView, { onback: vi.fn() });
    const err = await screen.findByTestId("error-banner");
    expect(err).toHaveTextContent("settings.json is corrupt");
  });
});
