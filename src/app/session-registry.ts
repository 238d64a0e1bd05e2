import type { StreamSession } from "./stream-session.ts";

/** How many ended request ids are remembered, to tell "expired" (REPLAY_UNAVAILABLE) from "never had" (404). */
const EXPIRED_LIMIT = 10_000;

/** The streaming requests a server knows: running, recently ended (resumable), and expired. */
export class SessionRegistry {
  private readonly sessions = new Map<string, StreamSession>();
  private readonly expired = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();

  add(session: StreamSession): void {
    this.sessions.set(session.requestId, session);
  }

  get(id: string): StreamSession | undefined {
    return this.sessions.get(id);
  }

  /** `true` for a streaming request that ended and was forgotten (its owner is forgotten too). */
  wasExpired(id: string): boolean {
    return this.expired.has(id);
  }

  /** Forgets `session` after `keepFor` ms (0: now); its id is then remembered as expired. */
  retire(session: StreamSession, keepFor: number): void {
    const drop = (): void => {
      if (this.sessions.get(session.requestId) !== session) return;
      this.sessions.delete(session.requestId);
      this.expired.add(session.requestId);
      if (this.expired.size > EXPIRED_LIMIT) {
        this.expired.delete(this.expired.values().next().value as string);
      }
    };
    if (keepFor <= 0) {
      drop();
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      drop();
    }, keepFor);
    timer.unref();
    this.timers.add(timer);
  }

  /** Sessions whose request has not ended. */
  active(): StreamSession[] {
    return [...this.sessions.values()].filter((s) => !s.finished);
  }

  clearTimers(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}
