import { describe, expect, it } from "vitest";
import { playgroundHtml } from "./index.ts";

describe("playgroundHtml", () => {
  it("is one page whose title is escaped and whose script parses", () => {
    const html = playgroundHtml({ title: `<img src=x onerror="alert(1)"> & 'co'` });
    expect(html.startsWith("<!doctype html>")).toBe(true);
    expect(html).toContain(
      "<title>&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; &#39;co&#39;</title>",
    );
    expect(html).not.toContain("<img src=x");
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1] ?? "");
    expect(scripts).toHaveLength(1);
    expect(() => new Function(scripts[0] ?? "")).not.toThrow();
  });

  it("loads nothing from elsewhere", () => {
    const html = playgroundHtml();
    expect(html).toContain("<title>troupe playground</title>");
    expect(html).not.toMatch(/\b(src|href)=["']?(https?:)?\/\//);
    expect(html).not.toMatch(/@import|<link /);
  });
});
