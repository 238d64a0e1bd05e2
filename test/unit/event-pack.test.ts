import { describe, expect, it } from "vitest";
import { packEvents, unpackEvents } from "../../src/queue/event-pack.ts";
import type { StoredEventBody } from "../../src/queue/queue-store.ts";

describe("event packs", () => {
  const events: StoredEventBody[] = [
    { type: "started", data: "{}" },
    { type: "result", data: "" },
    { type: "result", data: '"\u001f12\u001f"' },
    { type: "error", data: '{"fatal":false}', fatal: false },
    { type: "result", data: '{"s":"é€😀\\n"}\n' },
    { type: "error", data: '{"fatal":true}', fatal: true },
  ];

  it("unpacks what it packed, numbered up to the entry's last event", () => {
    expect(unpackEvents(packEvents(events), 17, events.length)).toEqual(
      events.map((event, i) => ({ seq: 12 + i, event })),
    );
  });

  it("refuses a pack that is cut short, too long or not one", () => {
    const packed = packEvents(events);
    expect(() => unpackEvents(packed.slice(0, -1), 6, 6)).toThrow(/malformed pack/);
    expect(() => unpackEvents(`${packed}x`, 6, 6)).toThrow(/malformed pack/);
    expect(() => unpackEvents(packed, 7, 7)).toThrow(/malformed pack/);
    expect(() => unpackEvents("result\u001f\u001fx\u001f{}", 1, 1)).toThrow(/malformed pack/);
  });
});
