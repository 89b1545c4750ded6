import { describe, expect, it } from "vitest";
import { describeError, errorDetails, serverLine, visibleMessage } from "./errors";
import type { AppError, ErrorCode } from "./types";

describe("describeError", () => {
  it("words input errors by context and falls back for unknown codes", () => {
    const e: AppError = { code: "input", message: "x", server: null };
    expect(describeError(e, "enroll").title).toMatch(/enrolment link/);
    expect(describeError(e, "enroll_link").title).toBe("This enrolment link is not valid.");
    expect(describeError(e).title).toBe("That value was not accepted.");
    expect(describeError({ code: "enroll_request_not_found", message: "x", server: null }, "enroll_link").title).toMatch(
      /no longer waiting/,
    );
    expect(describeError({ code: "brand_new" as ErrorCode, message: "?", server: null }).title).toBe("Something went wrong.");
  });
  it("summarises the server part", () => {
    expect(serverLine({ code: "server", message: "m", server: { code: 60317, message: "s", moreInfo: null, status: 400 } })).toBe("code 60317, HTTP 400");
    expect(serverLine({ code: "server", message: "m", server: null })).toBeNull();
  });
});

describe("error details", () => {
  it("says an expired enrolment code once, in words, with the server's answer behind Details", () => {
    const e: AppError = {
      code: "enroll_token_rejected",
      message: "this enrolment code has expired or was already used; get a new one from the website",
      server: { code: 20003, message: "Authenticate", moreInfo: "https://www.twilio.com/docs/errors/20003", status: 401 },
    };
    const text = describeError(e, "enroll");
    expect(text.title).toBe("This enrolment code has expired or was already used — get a new one from the website.");
    expect(visibleMessage(e, text)).toBeNull();
    const details = errorDetails(e, text);
    expect(details).toEqual([
      "Server said: Authenticate (code 20003, HTTP 401)",
      "More information: https://www.twilio.com/docs/errors/20003",
      "Error code: enroll_token_rejected",
    ]);
  });
  it("keeps raw network text behind Details and our own input sentences visible", () => {
    const net: AppError = { code: "network", message: "network error: connect: Connection refused (os error 111)", server: null };
    expect(visibleMessage(net, describeError(net))).toBeNull();
    expect(errorDetails(net, describeError(net))[0]).toContain("os error 111");
    const input: AppError = { code: "input", message: "the payload's serviceName contains control characters", server: null };
    expect(visibleMessage(input, describeError(input, "enroll"))).toContain("serviceName");
  });
});

