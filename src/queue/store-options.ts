import type { Outcome, QueueEntry, StoreOptions } from "./queue-store.ts";

/** {@link StoreOptions} with every default filled in (serve() validated the values). */
export interface ResolvedStoreOptions {
  readonly leaseTime: number;
  readonly maxAttempts: number;
  readonly retention: number;
  readonly maxEvents: number;
  readonly now: () => number;
  readonly onCompleted: (entry: QueueEntry, outcome: Outcome) => void;
}

/** The options a store keeps to, defaults filled in. */
export function resolveStoreOptions(options: StoreOptions = {}): ResolvedStoreOptions {
  return {
    leaseTime: options.leaseTime ?? 10_000,
    maxAttempts: options.maxAttempts ?? 2,
    retention: options.retention ?? 86_400_000,
    maxEvents: options.maxEvents ?? 10_000,
    now: options.now ?? Date.now,
    onCompleted: options.onCompleted ?? (() => {}),
  };
}
