import { CollectiveMismatchError } from "../errors.ts";
import { Kind } from "../transport/header.ts";
import type { Communicator } from "./communicator.ts";
import {
  compatible,
  type Descriptor,
  decodeDescriptor,
  describeCall,
  encodeDescriptor,
} from "./descriptor.ts";
import type { GroupInfo, OperationOptions } from "./group-info.ts";
import type { OpContext } from "./op-context.ts";
import { AllocSink } from "./sinks.ts";

/** What an operation needs from its group. */
export interface GroupHandle {
  readonly comm: Communicator;
  readonly info: GroupInfo;
  /** This rank's index in `info.ranks`. */
  readonly index: number;
  readonly timeout: number;
}

/**
 * Runs one collective: every member tells every other what it called (the arrival exchange, which
 * is all a barrier is), then `body` moves the data. The call completes only once every member
 * arrived with a matching call, so a mismatch fails on every rank, not only on the ones that
 * happen to exchange data.
 */
export async function runCollective<T>(
  group: GroupHandle,
  desc: Descriptor,
  options: OperationOptions,
  body: (ctx: OpContext) => Promise<T>,
): Promise<T> {
  const { ctx, done } = group.comm.startOp(group.info, desc, options, group.timeout);
  try {
    const arrivals = exchangeArrivals(ctx);
    arrivals.catch(() => {});
    const result = await body(ctx);
    await arrivals;
    if (ctx.error !== undefined) throw ctx.error;
    return result;
  } catch (error) {
    throw ctx.error ?? error;
  } finally {
    done();
  }
}

function exchangeArrivals(ctx: OpContext): Promise<unknown> {
  const me = ctx.comm.rank;
  const others = ctx.group.ranks.filter((rank) => rank !== me);
  if (others.length === 0) return Promise.resolve();
  const waits = others.map((rank) => {
    const sink = new AllocSink();
    return ctx.recv(rank, sink, 0, Kind.ARRIVE).then(() => {
      ctx.arrived.add(rank);
      const theirs = decodeDescriptor(sink.bytes);
      if (theirs === undefined || !compatible(ctx.desc, theirs)) {
        ctx.comm.breakEpoch(mismatchError(ctx, rank, theirs));
      }
    });
  });
  const payload = encodeDescriptor(ctx.desc);
  for (const rank of others) ctx.send(rank, payload, 0, 0, Kind.ARRIVE).catch(() => {});
  return Promise.all(waits);
}

function mismatchError(ctx: OpContext, rank: number, theirs: Descriptor | undefined) {
  const me = ctx.comm.rank;
  const mine = describeCall(ctx.desc);
  const other = theirs === undefined ? "something unreadable" : describeCall(theirs);
  return new CollectiveMismatchError(
    `Collective mismatch on ${ctx.group.name} at call #${ctx.seq}: rank ${me} called ${mine} but rank ${rank} called ${other}`,
    {
      rank: me,
      details: {
        sequence: ctx.seq,
        [`rank${me}`]: mine,
        [`rank${rank}`]: other,
        ranks: [me, rank],
      },
    },
  );
}
