// Entry point: mounts the app. Global CSS is a file (the CSP has no 'unsafe-inline').
import "./app.css";
import { mount } from "svelte";
import App from "./App.svelte";

const target = document.getElementById("app");
if (!target) throw new Error("missing #app element");
export default mount(App, { target });
