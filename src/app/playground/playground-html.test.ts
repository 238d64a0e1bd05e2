import { describe, expect, it } from "vitest";
import { playgroundHtml } from "./index.ts";

const scriptsOf = (html: string) =>
  [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1] ?? "");

describe("playgroundHtml", () => {
  it("is one page whose title is escaped and whose script parses", () => {
    const html = playgroundHtml({ title: `<img src=x onerror="alert(1)"> & 'co'` });
    expect(html.startsWith("<!doctype html>")).toBe(true);
    expect(html).toContain(
      "<title>&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; &#39;co&#39;</title>",
    );
    expect(html).not.toContain("<img src=x");
    const scripts = scriptsOf(html);
    expect(scripts).toHaveLength(1);
    expect(() => new Function(scripts[0] ?? "")).not.toThrow();
  });

  it("inlines the bundled page script, troupe/client included, as one classic script", () => {
    const [script = ""] = scriptsOf(playgroundHtml());
    // An IIFE: nothing to import at run time, and its names stay off `window`.
    expect(script).toMatch(/^("use strict";)?\(\(\)=>\{/);
    expect(script).not.toMatch(/\bimport\s*[{("*]|\bexport\s*[{*]|\brequire\(/);
    // troupe/client's stream(): it resumes at the endpoint's path, never at a second route.
    expect(script).toContain("last-event-id");
    expect(script).not.toContain("/events");
  });

  it("names the app id for the queue view when given one, escaped, and none otherwise", () => {
    expect(playgroundHtml({ title: "A", appId: `me/"x"` })).toContain(
      '<header data-titled="true" data-app-id="me/&quot;x&quot;">',
    );
    expect(playgroundHtml({ title: "A" })).not.toContain("data-app-id");
  });

  it("loads nothing from elsewhere", () => {
    const html = playgroundHtml();
    expect(html).toContain("<title>troupe playground</title>");
    expect(html).not.toMatch(/\b(src|href)=["']?(https?:)?\/\//);
    expect(html).not.toMatch(/@import|<link /);
  });
});
