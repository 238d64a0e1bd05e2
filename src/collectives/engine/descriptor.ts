import { dtypeByCode } from "../dtype.ts";

/** The collectives, by wire code. */
export const OpCode = {
  barrier: 1,
  broadcast: 2,
  allReduce: 3,
  reduce: 4,
  gather: 5,
  allGather: 6,
  scatter: 7,
  reduceScatter: 8,
  gatherObject: 9,
  allGatherObject: 10,
  broadcastObject: 11,
  send: 12,
  recv: 13,
} as const;

export type OpName = keyof typeof OpCode;

const names = new Map<number, string>(Object.entries(OpCode).map(([name, code]) => [code, name]));
const reduceNames = ["", "sum", "prod", "min", "max", "avg"];

/**
 * What a rank called: every rank of a group sends its descriptor to the others when it enters a
 * collective, and each checks the others' against its own. `-1` count or `0` dtype matches any.
 */
export interface Descriptor {
  readonly op: number;
  readonly dtype: number;
  readonly count: number;
  readonly root: number;
  readonly reduceOp: number;
}

export function encodeDescriptor(d: Descriptor): Uint8Array {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, d.op);
  view.setUint8(1, d.dtype);
  view.setUint8(2, d.reduceOp);
  view.setInt32(4, d.root, true);
  view.setFloat64(8, d.count, true);
  return bytes;
}

export function decodeDescriptor(bytes: Uint8Array): Descriptor | undefined {
  if (bytes.byteLength !== 16) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, 16);
  return {
    op: view.getUint8(0),
    dtype: view.getUint8(1),
    reduceOp: view.getUint8(2),
    root: view.getInt32(4, true),
    count: view.getFloat64(8, true),
  };
}

/** `true` when two ranks' descriptors describe the same collective. */
export function compatible(a: Descriptor, b: Descriptor): boolean {
  return (
    a.op === b.op &&
    a.root === b.root &&
    a.reduceOp === b.reduceOp &&
    (a.dtype === 0 || b.dtype === 0 || a.dtype === b.dtype) &&
    (a.count < 0 || b.count < 0 || a.count === b.count)
  );
}

/** Reads like the call: `gather(float32[1024], dst=0)`. */
export function describeCall(d: Descriptor): string {
  const name = names.get(d.op) ?? `op#${d.op}`;
  const args: string[] = [];
  if (d.dtype !== 0 || d.count >= 0) {
    const dtype = d.dtype === 0 ? "any" : (dtypeByCode(d.dtype)?.name ?? `dtype#${d.dtype}`);
    args.push(d.count >= 0 ? `${dtype}[${d.count}]` : dtype);
  }
  if (d.root >= 0) args.push(rootName(d.op) + d.root);
  if (d.reduceOp > 0) args.push(`op=${reduceNames[d.reduceOp] ?? d.reduceOp}`);
  return `${name}(${args.join(", ")})`;
}

function rootName(op: number): string {
  return op === OpCode.broadcast ||
    op === OpCode.scatter ||
    op === OpCode.broadcastObject ||
    op === OpCode.recv
    ? "src="
    : "dst=";
}
