import { describe, expect, it } from "vitest";
import { describeError, serverLine } from "./errors";
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
