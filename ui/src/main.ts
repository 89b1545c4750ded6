// Entry point: mounts the app. Global CSS is a file (the CSP has no 'unsafe-inline').
import "./app.css";
import { mount } from "svelte";
import App from "./App.svelte";

/** Module scripts can run before the stylesheet has loaded (seen in WebKitGTK); mounting
 * unstyled would lay out and focus/scroll against the wrong geometry. */
function stylesheetsLoaded(): Promise<void> {
  const links = Array.from(document.querySelectorAll<HTMLLinkElement>("link[rel=stylesheet]"));
  return Promise.all(
    links.map((l) =>
      l.sheet
        ? undefined
        : new Promise<void>((done) => {
            l.addEventListener("load", () => done(), { once: true });
            l.addEventListener("error", () => done(), { once: true });
          }),
    ),
  ).then(() => undefined);
}

const target = document.getElementById("app");
if (!target) throw new Error("missing #app element");
void stylesheetsLoaded().then(() => mount(App, { target }));
