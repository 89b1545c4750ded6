import { describe, expect, it } from "vitest";
import { previewEnrollment } from "./enroll";

describe("previewEnrollment", () => {
  it("reads an assent:// link without exposing the token", () => {
    const p = previewEnrollment(
      "assent://enroll?token=eyJsecret&serviceSid=VA1&identity=alice%40example.com&factorType=push&baseUrl=http%3A%2F%2F127.0.0.1%3A8790%2Fv2%2F",
    );
    expect(p).toEqual({ identity: "alice@example.com", serviceSid: "VA1", host: "127.0.0.1:8790", insecure: false });
    expect(JSON.stringify(p)).not.toContain("eyJsecret");
  });
  it("reads the JSON payload", () => {
    const p = previewEnrollment(
      JSON.stringify({ token: "t", serviceSid: "VA2", identity: "bob", factorType: "push", baseUrl: "https://verify.example/v2/" }),
    );
    expect(p).toEqual({ identity: "bob", serviceSid: "VA2", host: "verify.example", insecure: false });
  });
  it("flags plain http to a remote host", () => {
    expect(previewEnrollment('{"identity":"x","baseUrl":"http://evil.example/v2/"}')?.insecure).toBe(true);
  });
  it("returns null for anything else", () => {
    expect(previewEnrollment("")).toBeNull();
    expect(previewEnrollment("hello")).toBeNull();
    expect(previewEnrollment("{not json")).toBeNull();
    expect(previewEnrollment("assent://enroll")).toBeNull();
    expect(previewEnrollment("[1,2]")).toBeNull();
  });
});
