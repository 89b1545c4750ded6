// Copy buttons of the enrolment page. Without this script the buttons stay hidden and the
// link and JSON can still be selected by hand.
"use strict";

(() => {
  const say = (button, text) => {
    const status = document.getElementById(button.dataset.status);
    if (status) status.textContent = text;
  };

  for (const button of document.querySelectorAll("button[data-copy]")) {
    const source = document.getElementById(button.dataset.copy);
    if (!source) continue;
    button.hidden = false;
    button.addEventListener("click", async () => {
      // A link copies its address, anything else its text.
      const text = source instanceof HTMLAnchorElement ? source.href : source.textContent;
      try {
        await navigator.clipboard.writeText(text);
        say(button, "Copied.");
      } catch {
        // No clipboard access (an insecure page, a refusing browser): select it instead.
        const range = document.createRange();
        range.selectNodeContents(source);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        say(button, "Selected: press Ctrl+C to copy.");
      }
    });
  }
})();
