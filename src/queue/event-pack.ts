/**
 * Several consecutive events of a request in one Redis stream entry (docs/queue.md). A holder
 * that streams faster than one write per round trip sends its events in batches; written as one
 * entry per event, each costs Redis an XADD and every reader a reply of four fields to decode.
 * A pack is one string: per event its type, its fatal flag ("", "1" or "0"), the length of its
 * data and the data, separated by U+001F (which no type or length contains; the data is counted,
 * not scanned). The entry's id is the last event's number, so a reader resuming after any event
 * finds the entry that holds the next one with the same `(0-<n>` range as for single entries.
 */
import type { StoredEvent, StoredEventBody } from "./queue-store.ts";

const SEPARATOR = "\u001f";

/** How an event's `fatal` is stored, in a pack or an entry's `f` field: "" (none), "1" or "0". */
export function fatalFlag(event: StoredEventBody): string {
  return event.fatal === undefined ? "" : event.fatal ? "1" : "0";
}

/** The pack of `events` (none of them with a latest-wins key: those keep entries of their own). */
export function packEvents(events: readonly StoredEventBody[]): string {
  let packed = "";
  for (const event of events) {
    packed += `${event.type}${SEPARATOR}${fatalFlag(event)}${SEPARATOR}${event.data.length}${SEPARATOR}${event.data}`;
  }
  return packed;
}

/** The `count` events of a pack whose last event is numbered `last`, in order. */
export function unpackEvents(packed: string, last: number, count: number): StoredEvent[] {
  const events: StoredEvent[] = [];
  let at = 0;
  for (let seq = last - count + 1; seq <= last; seq++) {
    const afterType = packed.indexOf(SEPARATOR, at);
    const afterFatal = packed.indexOf(SEPARATOR, afterType + 1);
    const afterLength = packed.indexOf(SEPARATOR, afterFatal + 1);
    const length = Number(packed.slice(afterFatal + 1, afterLength));
    const end = afterLength + 1 + length;
    if (afterType < 0 || afterFatal < 0 || afterLength < 0 || !Number.isInteger(length)) {
      throw malformed(last);
    }
    const fatal = packed.slice(afterType + 1, afterFatal);
    const event: StoredEventBody = {
      type: packed.slice(at, afterType) as StoredEventBody["type"],
      data: packed.slice(afterLength + 1, end),
      ...(fatal === "" ? {} : { fatal: fatal === "1" }),
    };
    events.push({ seq, event });
    at = end;
  }
  if (at !== packed.length) throw malformed(last);
  return events;
}

function malformed(last: number): Error {
  return new Error(`The stored events before ${last} cannot be read (a malformed pack)`);
}
