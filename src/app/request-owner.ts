import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** Random bytes in a resume token: 256 bits, far past guessing. */
const TOKEN_BYTES = 32;

/**
 * Who started a stream, as the server can check it later: a hash of the resume token its
 * response carried (never the token itself, so neither a heap dump nor a log line holds it) and,
 * when API keys are set, the principal of the key it came with. Resuming or cancelling the stream
 * must prove both.
 */
export class RequestOwner {
  private constructor(
    private readonly tokenHash: Buffer,
    /** The starter's key fingerprint (see `ServerContext.principals`); `undefined` without keys. */
    readonly principal: string | undefined,
  ) {}

  /** A new owner for a request sent by `principal`, and the token to hand to its client. */
  static issue(principal: string | undefined): { owner: RequestOwner; token: string } {
    const token = randomBytes(TOKEN_BYTES).toString("base64url");
    return { owner: new RequestOwner(hash(token), principal), token };
  }

  /**
   * `true` when `token` is this request's and `principal` is its starter's. The token is compared
   * in constant time (as hashes of equal length, whatever was sent); a header sent twice counts
   * as none.
   */
  admits(token: string | readonly string[] | undefined, principal: string | undefined): boolean {
    const given = typeof token === "string" ? token : "";
    const tokenMatches = timingSafeEqual(hash(given), this.tokenHash);
    return tokenMatches && given !== "" && principal === this.principal;
  }
}

function hash(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}
