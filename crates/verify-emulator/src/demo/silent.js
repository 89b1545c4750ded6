// "Sign in with Assent on this computer" (the demo's sign-in page; see the README's
// "Silent approval" section). Without this script the form submits as an ordinary sign-in.
"use strict";

(() => {
  const show = (el, status, text) => {
    el.hidden = false;
    el.dataset.status = status;
    el.className = `status status-${status === "approved" ? "approved" : "pending"}`;
    el.textContent = text;
  };

  const start = async (form, el) => {
    // Same-origin fetch: cookie, Origin and the form's CSRF token go as with a form post.
    const started = await fetch(form.action, {
      method: "POST",
      headers: { Accept: "application/json" },
      body: new URLSearchParams(new FormData(form)),
      credentials: "same-origin",
    });
    if (!started.ok) throw new Error(`sign-in request failed: ${started.status}`);
    const { challenge_sid: sid, nonce, status_url: statusUrl } = await started.json();
    form.dataset.challengeSid = sid;
    show(el, "asking", "Asking Assent on this computer…");

    const assent = form.dataset.assentEndpoint;
    const post = (route, body) =>
      fetch(assent + route, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      }).then((r) => r.json());
    // The card and notification appear at once even when silent approval is not possible.
    await post("wake", { challenge_sid: sid }).catch(() => {});
    const { status } = await post("silent-approval", { challenge_sid: sid, nonce }).catch(
      () => ({ status: "unavailable" }),
    );
    if (status === "approved") {
      show(el, "approved", "Approved silently (origin verified)");
      const link = document.createElement("a");
      link.href = statusUrl;
      link.dataset.testid = "silent-status-link";
      link.textContent = " See the request";
      el.append(link);
      return;
    }
    // "prompt", "denied" or Assent not running: the ordinary waiting view.
    show(el, "prompt", "Approve the request in Assent");
    window.location.assign(statusUrl);
  };

  for (const form of document.querySelectorAll("form[data-assent-silent]")) {
    form.addEventListener("submit", (event) => {
      const el = document.getElementById("silent-status");
      if (!el || form.dataset.busy) return;
      event.preventDefault();
      form.dataset.busy = "1";
      start(form, el).catch(() => {
        // Anything unexpected: fall back to the ordinary form post.
        delete form.dataset.busy;
        HTMLFormElement.prototype.submit.call(form);
      });
    });
  }
})();
