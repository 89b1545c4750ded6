/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";
import { svelteTesting } from "@testing-library/svelte/vite";

// The window runs under a strict CSP (no inline scripts or styles), so component CSS must be
// emitted as files (`emitCss` + `css: "external"`) and nothing may be injected inline.
export default defineConfig({
  plugins: [
    svelte({ emitCss: true, compilerOptions: { css: "external" } }),
    svelteTesting(),
  ],
  clearScreen: false,
  // devUrl in src-tauri/tauri.conf.json is http://localhost:5173.
  server: { port: 5173, strictPort: true, host: "localhost" },
  preview: { port: 4173, strictPort: true, host: "127.0.0.1" },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // WebKitGTK 2.50 (Linux), WKWebView (macOS 12+) and WebView2 all handle this.
    target: ["es2021", "safari15"],
    // A separate file keeps CSS out of JS (style-src 'self' forbids injected <style>).
    cssCodeSplit: false,
    // Inlined data: assets would be fine for images but not for fonts/scripts; keep files.
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.ts"],
    setupFiles: ["./src/test/setup.ts"],
    restoreMocks: true,
    // app.css is read as text by src/test/motion.test.ts (vitest empties CSS it doesn't process).
    css: { include: [/app\.css/] },
  },
});
