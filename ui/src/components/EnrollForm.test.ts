import { describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen } from "@testing-library/svelte";
import EnrollForm from "./EnrollForm.svelte";
import { account, appError, backendEmit, deferred, enrollPreview, mockBackend, type Call } from "../test/backend";
import type { Account, AppErrorCode, EnrollPreview, EnrollRequest } from "../lib/types";

const LINK =
  "assent://enroll?token=eyJhbGciOi.secret.sig&serviceSid=VA00000000000000000000000000000001&identity=alice&factorType=push&baseUrl=http%3A%2F%2F127.0.0.1%3A8790%2Fv2%2F";

async function flush() {
  await new Promise((r) => setTimeout(r, 0));
}

/** The calls of one command. */
function only(calls: Call[], cmd: string): Call[] {
  return calls.filter((c) => c.cmd === cmd);
}

describe("EnrollForm", () => {
  it("warns before it starts when the pasted identity is already enrolled, and refuses to add it", async () => {
    const calls = mockBackend({
      preview_enroll_payload: (a) =>
        String(a.text).includes("other")
          ? enrollPreview({ identity: "bob", accountName: "Shop (bob)" })
          : enrollPreview({ existingAccount: "Bank <b>me</b>", accountName: "Bank (alice)" }),
    });
    render(EnrollForm, { oncomplete: vi.fn(), oncancel: vi.fn() });
    await flush();
    await fireEvent.input(screen.getByTestId("enroll-input"), { target: { value: LINK } });
    const warn = await screen.findByTestId("enroll-already");
    expect(warn).toHaveTextContent("This account is already in Assent as “Bank <b>me</b>”.");
    expect(warn.querySelector("b")).toBeNull();
    expect(screen.getByTestId("enroll-submit")).toBeDisabled();
    // Another paste that is not enrolled yet lifts the warning and names the new account.
    await fireEvent.input(screen.getByTestId("enroll-input"), { target: { value: LINK + "&other=1" } });
    await vi.waitFor(() => expect(screen.queryByTestId("enroll-already")).toBeNull());
    expect(screen.getByTestId("enroll-name")).toHaveAttribute("placeholder", "Shop (bob)");
    expect(screen.getByTestId("enroll-submit")).toBeEnabled();
    expect(only(calls, "enroll")).toEqual([]);
  });

  it("enrols the pasted text with the optional name, showing progress steps from events", async () => {
    const result = deferred<Account>();
    const calls = mockBackend({
      preview_enroll_payload: () => enrollPreview({ identity: "alice@example.com" }),
      enroll: () => result.promise,
    });
    const oncomplete = vi.fn();
    render(EnrollForm, { oncomplete, oncancel: vi.fn() });
    await flush();
    const input = screen.getByTestId("enroll-input");
    expect(document.activeElement).toBe(input);
    await fireEvent.input(input, { target: { value: `  ${LINK}\n` } });
    // The backend parses the pasted text; the preview shows where the account goes.
    expect(only(calls, "preview_enroll_payload")).toEqual([{ cmd: "preview_enroll_payload", args: { text: LINK } }]);
    const preview = await screen.findByLabelText("What will be added");
    expect(preview).toHaveTextContent("alice@example.com");
    expect(preview).toHaveTextContent("http://127.0.0.1:8790");
    expect(preview).not.toHaveTextContent("secret");
    // The name the app will use when the field stays empty, from the backend's preview.
    expect(screen.getByTestId("enroll-name")).toHaveAttribute("placeholder", "127.0.0.1:8790 (alice)");
    expect(screen.getByTestId("enroll-name-help")).toHaveTextContent("Leave it empty to call it “127.0.0.1:8790 (alice)”.");
    expect(screen.queryByTestId("enroll-already")).toBeNull();
    await fireEvent.input(screen.getByTestId("enroll-name"), { target: { value: " Bank " } });
    await fireEvent.click(screen.getByTestId("enroll-submit"));

    expect(only(calls, "enroll")).toEqual([{ cmd: "enroll", args: { payload: LINK, friendlyName: "Bank" } }]);
    expect(screen.getByTestId("enroll-submit")).toBeDisabled();
    for (const step of ["creating_key", "creating_factor", "verifying"] as const) {
      await backendEmit("enroll-progress", { step });
      const current = screen.getByTestId("enroll-progress").querySelector("[aria-current=step]");
      expect(current).toHaveAttribute("data-step", step);
    }
    const done = screen.getByTestId("enroll-progress").querySelector("[data-step=creating_key]");
    expect(done).toHaveClass("done");

    const acc = account({ friendlyName: "Bank" });
    result.resolve(acc);
    await vi.waitFor(() => expect(oncomplete).toHaveBeenCalledWith(acc));
    expect((screen.getByTestId("enroll-input") as HTMLTextAreaElement).value).toBe("");
    // Nothing of the payload is stored in the web view.
    expect(localStorage.length).toBe(0);
    expect(sessionStorage.length).toBe(0);
  });

  it("clears the old error when a new payload is pasted", async () => {
    mockBackend({
      preview_enroll_payload: () => Promise.reject(appError("input", "x")),
      enroll: () => Promise.reject(appError("enroll_token_rejected", "this enrolment code has expired or was already used")),
    });
    render(EnrollForm, { oncomplete: vi.fn(), oncancel: vi.fn() });
    await fireEvent.input(screen.getByTestId("enroll-input"), { target: { value: '{"token":"old"}' } });
    await fireEvent.click(screen.getByTestId("enroll-submit"));
    await vi.waitFor(() => expect(screen.getByTestId("enroll-error")).toHaveAttribute("data-code", "enroll_token_rejected"));
    await fireEvent.input(screen.getByTestId("enroll-input"), { target: { value: '{"token":"new"}' } });
    await flush();
    expect(screen.queryByTestId("enroll-error")).toBeNull();
  });

  it("omits friendlyName when no name is given and refuses an empty payload locally", async () => {
    const calls = mockBackend({
      preview_enroll_payload: () => Promise.reject(appError("input", "enrolment JSON is invalid")),
      enroll: () => account(),
    });
    render(EnrollForm, { oncomplete: vi.fn(), oncancel: vi.fn() });
    await fireEvent.click(screen.getByTestId("enroll-submit"));
    expect(calls).toHaveLength(0);
    expect(screen.getByTestId("enroll-error")).toHaveAttribute("data-code", "input");
    await fireEvent.input(screen.getByTestId("enroll-input"), { target: { value: '{"token":"t"}' } });
    await flush();
    // Not enrollable: no preview, and the preview's refusal is not shown as an error.
    expect(screen.queryByLabelText("What will be added")).toBeNull();
    await fireEvent.click(screen.getByTestId("enroll-submit"));
    await vi.waitFor(() => expect(only(calls, "enroll")).toHaveLength(1));
    expect(only(calls, "enroll")[0].args).toEqual({ payload: '{"token":"t"}' });
  });

  it("shows only the newest preview when answers arrive out of order, none for cleared text", async () => {
    const answers: ReturnType<typeof deferred<EnrollPreview>>[] = [];
    const calls = mockBackend({
      preview_enroll_payload: () => {
        const d = deferred<EnrollPreview>();
        answers.push(d);
        return d.promise;
      },
    });
    render(EnrollForm, { oncomplete: vi.fn(), oncancel: vi.fn() });
    const input = screen.getByTestId("enroll-input");
    await fireEvent.input(input, { target: { value: "first" } });
    await fireEvent.input(input, { target: { value: "second" } });
    await vi.waitFor(() => expect(answers).toHaveLength(2));
    answers[1].resolve(enrollPreview({ identity: "newest" }));
    await flush();
    answers[0].resolve(enrollPreview({ identity: "stale" }));
    await flush();
    expect(screen.getByLabelText("What will be added")).toHaveTextContent("newest");
    expect(screen.getByLabelText("What will be added")).not.toHaveTextContent("stale");
    await fireEvent.input(input, { target: { value: "  " } });
    await flush();
    expect(screen.queryByLabelText("What will be added")).toBeNull();
    expect(only(calls, "preview_enroll_payload").map((c) => c.args.text)).toEqual(["first", "second"]);
  });

  it.each<[AppErrorCode, string]>([
    ["input", "That doesn't look like a valid enrolment link or payload."],
    ["insecure_url", "The server address is not secure."],
    ["keychain_unavailable", "The system keychain is not available."],
    ["network", "Could not reach the server."],
    ["authentication_token", "The enrolment token was rejected."],
  ])("explains a %s error", async (code, title) => {
    mockBackend({
      preview_enroll_payload: () => enrollPreview(),
      enroll: () => Promise.reject(appError(code, `detail for ${code}`)),
    });
    render(EnrollForm, { oncomplete: vi.fn(), oncancel: vi.fn() });
    await fireEvent.input(screen.getByTestId("enroll-input"), { target: { value: LINK } });
    await fireEvent.click(screen.getByTestId("enroll-submit"));
    const err = await screen.findByTestId("enroll-error");
    expect(err).toHaveAttribute("data-code", code);
    expect(err).toHaveTextContent(title);
    expect(err).toHaveTextContent(`detail for ${code}`);
    expect(screen.queryByTestId("enroll-progress")).toBeNull();
    expect(screen.getByTestId("enroll-submit")).toBeEnabled();
    // The text stays so the user can fix it.
    expect((screen.getByTestId("enroll-input") as HTMLTextAreaElement).value).toBe(LINK);
  });

  it("shows the server's code and message", async () => {
    mockBackend({
      preview_enroll_payload: () => enrollPreview(),
      enroll: () =>
        Promise.reject(
          appError("server", "Verify API error", { code: 60317, message: "Factor already exists", moreInfo: null, status: 409 }),
        ),
    });
    render(EnrollForm, { oncomplete: vi.fn(), oncancel: vi.fn() });
    await fireEvent.input(screen.getByTestId("enroll-input"), { target: { value: LINK } });
    await fireEvent.click(screen.getByTestId("enroll-submit"));
    const err = await screen.findByTestId("enroll-error");
    expect(err).toHaveTextContent("The server refused the request.");
    expect(err).toHaveTextContent("Factor already exists");
    expect(err).toHaveTextContent("code 60317");
    expect(err).toHaveTextContent("HTTP 409");
  });

  describe("from a deep link", () => {
    // What the backend keeps to itself: the link and its token never reach the web view.
    const TOKEN = "eyJhbGciOi.deep-link-secret.sig";
    const REQUEST: EnrollRequest = {
      requestId: "3f2b8c1e-0000-4000-8000-000000000001",
      identity: "alice",
      serviceSid: "VA00000000000000000000000000000001",
      baseUrl: "http://127.0.0.1:8790",
      factorType: "push",
      origin: "https://bank.example",
      serviceName: null,
      userName: null,
      accountName: "bank.example (alice)",
      existingAccount: null,
    };

    function expectNoSecret(calls: Call[]) {
      expect(document.body.innerHTML).not.toContain(TOKEN);
      expect(document.body.innerHTML).not.toContain("assent://enroll?");
      for (const el of Array.from(document.querySelectorAll("input, textarea")) as HTMLInputElement[]) {
        expect(el.value).not.toContain(TOKEN);
      }
      const sent = JSON.stringify(calls);
      expect(sent).not.toContain(TOKEN);
      expect(sent).not.toContain("assent://");
      expect(calls.some((c) => c.cmd === "enroll")).toBe(false);
    }

    it("shows only the preview and confirms by request id with the optional name", async () => {
      const result = deferred<Account>();
      const calls = mockBackend({ confirm_enroll_request: () => result.promise });
      const oncomplete = vi.fn();
      render(EnrollForm, { request: REQUEST, oncomplete, oncancel: vi.fn() });
      await flush();
      expect(screen.queryByTestId("enroll-input")).toBeNull();
      const preview = screen.getByLabelText("What will be added");
      expect(preview).toHaveTextContent("alice");
      expect(preview).toHaveTextContent("VA00000000000000000000000000000001");
      expect(preview).toHaveTextContent("http://127.0.0.1:8790");
      expect(screen.getByTestId("enroll-origin")).toHaveTextContent("https://bank.example");
      expect(screen.getByRole("note")).toHaveTextContent("A website asked Assent to add an account");
      // Focus is on the heading, never on Confirm: a keystroke meant for something else must
      // not confirm a link a page opened.
      expect(document.activeElement).toBe(screen.getByRole("heading", { name: "Add account" }));
      expect(document.activeElement).not.toBe(screen.getByTestId("enroll-submit"));
      expect(screen.getByTestId("enroll-submit")).toHaveTextContent("Confirm");
      expect(calls).toHaveLength(0);

      await fireEvent.input(screen.getByTestId("enroll-name"), { target: { value: " Bank " } });
      await fireEvent.click(screen.getByTestId("enroll-submit"));
      expect(calls).toEqual([
        { cmd: "confirm_enroll_request", args: { requestId: REQUEST.requestId, friendlyName: "Bank" } },
      ]);
      expect(screen.getByTestId("enroll-submit")).toBeDisabled();
      await backendEmit("enroll-progress", { step: "verifying" });
      const current = screen.getByTestId("enroll-progress").querySelector("[aria-current=step]");
      expect(current).toHaveAttribute("data-step", "verifying");

      const acc = account({ friendlyName: "Bank" });
      result.resolve(acc);
      await vi.waitFor(() => expect(oncomplete).toHaveBeenCalledWith(acc));
      expectNoSecret(calls);
      expect(localStorage.length).toBe(0);
      expect(sessionStorage.length).toBe(0);
    });

    it("omits friendlyName when no name is given", async () => {
      const calls = mockBackend({ confirm_enroll_request: () => account() });
      render(EnrollForm, { request: REQUEST, oncomplete: vi.fn(), oncancel: vi.fn() });
      await fireEvent.click(screen.getByTestId("enroll-submit"));
      await vi.waitFor(() => expect(calls).toHaveLength(1));
      expect(calls[0]).toEqual({ cmd: "confirm_enroll_request", args: { requestId: REQUEST.requestId } });
      expectNoSecret(calls);
    });

    it("Cancel dismisses the request without enrolling", async () => {
      const calls = mockBackend({ dismiss_enroll_request: () => null });
      const oncancel = vi.fn();
      render(EnrollForm, { request: REQUEST, oncomplete: vi.fn(), oncancel });
      await fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
      expect(oncancel).toHaveBeenCalledOnce();
      expect(calls).toEqual([{ cmd: "dismiss_enroll_request", args: { requestId: REQUEST.requestId } }]);
      expectNoSecret(calls);
    });

    it("keeps the preview after a failed confirmation so the user can retry", async () => {
      let fail = true;
      const calls = mockBackend({
        confirm_enroll_request: () =>
          fail ? Promise.reject(appError("network", "connection refused")) : account(),
      });
      const oncomplete = vi.fn();
      render(EnrollForm, { request: REQUEST, oncomplete, oncancel: vi.fn() });
      await fireEvent.click(screen.getByTestId("enroll-submit"));
      const err = await screen.findByTestId("enroll-error");
      expect(err).toHaveAttribute("data-code", "network");
      expect(screen.queryByTestId("enroll-progress")).toBeNull();
      expect(screen.getByTestId("enroll-submit")).toBeEnabled();
      expect(screen.getByLabelText("What will be added")).toHaveTextContent("alice");
      fail = false;
      await fireEvent.click(screen.getByTestId("enroll-submit"));
      await vi.waitFor(() => expect(oncomplete).toHaveBeenCalledOnce());
      expect(calls.map((c) => c.cmd)).toEqual(["confirm_enroll_request", "confirm_enroll_request"]);
      expectNoSecret(calls);
    });

    it("says so when the request is no longer waiting and stops offering Confirm", async () => {
      const calls = mockBackend({
        confirm_enroll_request: () =>
          Promise.reject(appError("enroll_request_not_found", "no enrolment request is waiting")),
      });
      const oncancel = vi.fn();
      render(EnrollForm, { request: REQUEST, oncomplete: vi.fn(), oncancel });
      await fireEvent.click(screen.getByTestId("enroll-submit"));
      const err = await screen.findByTestId("enroll-error");
      expect(err).toHaveAttribute("data-code", "enroll_request_not_found");
      expect(err).toHaveTextContent("This enrolment link is no longer waiting.");
      expect(screen.getByTestId("enroll-submit")).toBeDisabled();
      await fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
      expect(oncancel).toHaveBeenCalledOnce();
      // Nothing left to dismiss.
      expect(calls.map((c) => c.cmd)).toEqual(["confirm_enroll_request"]);
    });

    it("explains an invalid link and only offers to dismiss it", async () => {
      const calls = mockBackend({ dismiss_enroll_request: () => null });
      const oncancel = vi.fn();
      render(EnrollForm, {
        request: { requestId: "req-bad", error: appError("input", "enrolment link lacks serviceSid") },
        oncomplete: vi.fn(),
        oncancel,
      });
      await flush();
      const err = screen.getByTestId("enroll-error");
      expect(err).toHaveAttribute("data-code", "input");
      expect(err).toHaveTextContent("This enrolment link is not valid.");
      expect(err).toHaveTextContent("enrolment link lacks serviceSid");
      expect(screen.queryByTestId("enroll-submit")).toBeNull();
      expect(screen.queryByTestId("enroll-input")).toBeNull();
      expect(screen.queryByLabelText("What will be added")).toBeNull();
      expect(document.activeElement).toBe(screen.getByRole("heading", { name: "Add account" }));
      await fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
      expect(oncancel).toHaveBeenCalledOnce();
      expect(calls).toEqual([{ cmd: "dismiss_enroll_request", args: { requestId: "req-bad" } }]);
      expectNoSecret(calls);
    });
  });
});
