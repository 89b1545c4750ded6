import "@testing-library/jest-dom/vitest";
import { afterEach, vi } from "vitest";
import { clearMocks } from "@tauri-apps/api/mocks";
import { cleanup } from "@testing-library/svelte";

afterEach(() => {
  // Unmount components while the mocked bridge still exists, then drop the mocks.
  cleanup();
  clearMocks();
  vi.useRealTimers();
  localStorage.clear();
  sessionStorage.clear();
});
