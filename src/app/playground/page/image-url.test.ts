import { describe, expect, it } from "vitest";
import { safeImageUrl } from "./image-url.ts";

const BASE = "http://127.0.0.1:8000/?endpoint=%2Fgenerate";

describe("safeImageUrl", () => {
  it("keeps a data:image URL exactly as the result gave it", () => {
    const url = "data:image/jpeg;base64,/9j/4AAQ";
    expect(safeImageUrl(url, BASE)).toBe(url);
    expect(safeImageUrl("DATA:IMAGE/png;base64,AA==", BASE)).toBe("DATA:IMAGE/png;base64,AA==");
  });

  it("keeps http, https and blob URLs, and resolves a relative one against the page", () => {
    expect(safeImageUrl("https://cdn.example/a.png", BASE)).toBe("https://cdn.example/a.png");
    expect(safeImageUrl("http://cdn.example/a.png", BASE)).toBe("http://cdn.example/a.png");
    expect(safeImageUrl("blob:http://127.0.0.1:8000/0b5e", BASE)).toBe(
      "blob:http://127.0.0.1:8000/0b5e",
    );
    expect(safeImageUrl("/files/a.png", BASE)).toBe("http://127.0.0.1:8000/files/a.png");
  });

  it("refuses script, other data and unknown URLs however they are spelled", () => {
    for (const url of [
      "javascript:alert(1)",
      " JavaScript:alert(1)",
      "java\tscript:alert(1)",
      "data:text/html,<script>alert(1)</script>",
      "data:,image/png",
      "vbscript:msgbox(1)",
      "file:///etc/passwd",
      "ftp://example.com/a.png",
    ]) {
      expect(safeImageUrl(url, BASE), url).toBeUndefined();
    }
  });

  it("refuses what does not parse as a URL", () => {
    expect(safeImageUrl("http://[::1", BASE)).toBeUndefined();
    expect(safeImageUrl("/a.png", "not a base")).toBeUndefined();
  });
});
