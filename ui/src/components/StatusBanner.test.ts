import { describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen } from "@testing-library/svelte";
import StatusBanner from "./StatusBanner.svelte";
import { appError, mockBackend, watcher } from "../test/backend";

const NOW = Date.parse("2026-11-26T12:00:00Z");

describe("StatusBanner", () => {
  it("shows nothing while online", () => {
    render(StatusBanner, { watcher: watcher(), now: NOW });
    expect(screen.queryByTestId("offline-banner")).toBeNull();
    expect(screen.queryByTestId("error-banner")).toBeNull();
  });

  it("shows the offline banner with the last error and checks now on request", async () => {
    const calls = mockBackend({ check_now: () => null });
    render(StatusBanner, {
      watcher: watcher({ online: false, lastPollAt: "2026-11-26T11:50:00Z", lastError: appError("network", "dns error") }),
      now: NOW,
    });
    const banner = screen.getByTestId("offline-banner");
    expect(screen.getByTestId("offline-title")).toHaveTextContent("Can't reach the server — retrying");
    expect(banner).not.toHaveTextContent("Could not reach the server.");
    expect(screen.getByTestId("offline-details")).toHaveTextContent("dns error");
    expect(banner).toHaveTextContent(/Offline since .*\(10 min ago\)/);
    await fireEvent.click(screen.getByRole("button", { name: /Try now/ }));
    expect(calls).toEqual([{ cmd: "check_now", args: {} }]);
  });

  it("names the host it cannot reach and keeps the raw request and OS error behind Details", () => {
    const raw =
      "network error: could not connect: error sending request for url (http://127.0.0.1:8790/v2/Services/VA1/Entities/e/Challenges?Status=pending): tcp connect error: Connection refused (os error 111)";
    render(StatusBanner, {
      watcher: watcher({ online: false, lastError: { ...appError("network", raw), host: "127.0.0.1:8790" } }),
      now: NOW,
    });
    const title = screen.getByTestId("offline-title");
    expect(title).toHaveTextContent("Can't reach 127.0.0.1:8790 — retrying");
    const details = screen.getByTestId("offline-details");
    expect(details.tagName).toBe("DETAILS");
    expect(details).not.toHaveAttribute("open");
    expect(details).toHaveTextContent("os error 111");
    // Outside Details nothing says the URL or the OS error.
    const visible = [...screen.getByTestId("offline-banner").querySelectorAll("p")].filter((p) => !details.contains(p));
    for (const p of visible) {
      expect(p.textContent).not.toMatch(/os error|http:\/\/|Challenges/);
    }
  });

  it("renders a hostile host as text", () => {
    render(StatusBanner, {
      watcher: watcher({ online: false, lastError: { ...appError("network", "x"), host: "<img src=x onerror=alert(1)>" } }),
      now: NOW,
    });
    expect(screen.getByTestId("offline-title")).toHaveTextContent("Can't reach <img src=x onerror=alert(1)> — retrying");
    expect(screen.getByTestId("offline-banner").querySelector("img")).toBeNull();
  });

  it("says which server's clock is implausibly off, and by how much", () => {
    render(StatusBanner, {
      watcher: watcher({
        clockWarnings: [
          { server: "shop.example", offsetSecs: 11 * 365 * 86400 + 3600 },
          { server: "127.0.0.1:8790", offsetSecs: -3 * 86400 },
        ],
      }),
      now: NOW,
    });
    const banners = screen.getAllByTestId("clock-banner");
    expect(banners).toHaveLength(2);
    expect(banners[0]).toHaveTextContent("The clock of shop.example is 11 years ahead of this computer's");
    expect(banners[1]).toHaveTextContent("The clock of 127.0.0.1:8790 is 3 days behind this computer's");
    expect(screen.queryByTestId("offline-banner")).toBeNull();
  });

  it("names a non-network cause", () => {
    render(StatusBanner, {
      watcher: watcher({ online: false, lastError: appError("server", "HTTP 503", { code: 20503, message: "Service unavailable", moreInfo: null, status: 503 }) }),
      now: NOW,
    });
    expect(screen.getByTestId("offline-banner")).toHaveTextContent("The server refused the request.");
    expect(screen.getByTestId("offline-banner")).toHaveTextContent("HTTP 503");
  });

  it("shows the paused banner, says requests still appear, and resumes from it", async () => {
    const ondismiss = vi.fn();
    const onresume = vi.fn(() => Promise.resolve());
    render(StatusBanner, {
      watcher: watcher({ paused: true }),
      error: appError("storage", "cannot write"),
      now: NOW,
      ondismiss,
      onresume,
    });
    expect(screen.getByTestId("paused-banner")).toHaveTextContent("Notifications are paused — requests still appear here");
    await fireEvent.click(screen.getByRole("button", { name: "Resume notifications" }));
    expect(onresume).toHaveBeenCalledOnce();
    expect(screen.getByTestId("error-banner")).toHaveTextContent("cannot write");
    await fireEvent.click(screen.getByRole("button", { name: "Dismiss" }));
    expect(ondismiss).toHaveBeenCalledOnce();
  });

  it("says when resuming failed", async () => {
    render(StatusBanner, {
      watcher: watcher({ paused: true }),
      now: NOW,
      onresume: () => Promise.reject(appError("storage", "disk full")),
    });
    await fireEvent.click(screen.getByRole("button", { name: "Resume notifications" }));
    await vi.waitFor(() => expect(screen.getByTestId("paused-banner")).toHaveTextContent("Resume failed"));
  });

  it("says the keychain is locked and what to do while the server is reachable", async () => {
    const calls = mockBackend({ check_now: () => null });
    render(StatusBanner, {
      watcher: watcher({ online: true, lastError: appError("keychain_locked", "unlock prompt was dismissed") }),
      now: NOW,
    });
    expect(screen.queryByTestId("offline-banner")).toBeNull();
    const banner = screen.getByTestId("keychain-banner");
    expect(banner).toHaveAttribute("data-code", "keychain_locked");
    expect(banner).toHaveTextContent("The system keychain is locked.");
    expect(banner).toHaveTextContent(/Unlock your keychain/);
    await fireEvent.click(screen.getByRole("button", { name: /Try now/ }));
    expect(calls).toEqual([{ cmd: "check_now", args: {} }]);
  });

  it("says the keychain is missing and names the Secret Service", () => {
    render(StatusBanner, {
      watcher: watcher({ online: true, lastError: appError("keychain_unavailable", "no bus") }),
      now: NOW,
    });
    const banner = screen.getByTestId("keychain-banner");
    expect(banner).toHaveTextContent("The system keychain is not available.");
    expect(banner).toHaveTextContent(/Secret Service/);
  });

  it("shows no keychain banner for other errors while online", () => {
    render(StatusBanner, { watcher: watcher({ online: true, lastError: appError("factor_not_found", "gone") }), now: NOW });
    expect(screen.queryByTestId("keychain-banner")).toBeNull();
  });
});
