import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { decodeNpy, encodeNpy, type TensorDType } from "../../../src/encoding/npy.ts";
import { Tensor } from "../../../src/encoding/tensor.ts";
import { decodeValue, encodeValue } from "../../../src/ipc/index.ts";

const samples: Record<TensorDType, Tensor["data"]> = {
  float16: new Uint16Array([0x3c00, 0xc000, 0x7c00, 0x0001]), // 1, -2, inf, smallest subnormal
  float32: new Float32Array([1.5, -0, Number.NaN, 3.4e38, 1e-45]),
  float64: new Float64Array([Math.PI, -1e308, Number.NEGATIVE_INFINITY, 5e-324]),
  int8: new Int8Array([-128, 0, 127]),
  int16: new Int16Array([-32768, 1, 32767]),
  int32: new Int32Array([-(2 ** 31), 7, 2 ** 31 - 1]),
  uint8: new Uint8Array([0, 128, 255]),
  uint16: new Uint16Array([0, 65535]),
  uint32: new Uint32Array([0, 2 ** 32 - 1]),
  int64: new BigInt64Array([-(2n ** 63n), 0n, 2n ** 63n - 1n]),
  uint64: new BigUint64Array([0n, 2n ** 64n - 1n]),
};

/** `npy` with the ASCII text `from` in its header replaced by `to`, byte for byte (same length). */
function replaceHeader(npy: Uint8Array, from: string, to: string): Uint8Array {
  const codes = (text: string) => Array.from(text, (c) => c.charCodeAt(0));
  const needle = codes(from);
  const at = npy.findIndex((_, i) => needle.every((b, j) => npy[i + j] === b));
  expect(at, `${from} in the header`).toBeGreaterThan(0);
  const out = npy.slice();
  out.set(codes(to), at);
  return out;
}

function bitsOf(data: ArrayBufferView): number[] {
  return [...new Uint8Array(data.buffer, data.byteOffset, data.byteLength)];
}

describe("the .npy encoding", () => {
  it("writes NumPy's version 1.0 header, padded so the data starts on a 64-byte boundary", () => {
    const npy = encodeNpy(new Float32Array(6), [2, 3], "float32");
    const headerLength = new DataView(npy.buffer).getUint16(8, true);
    const header = new TextDecoder().decode(npy.subarray(10, 10 + headerLength));
    expect([...npy.subarray(0, 8)]).toEqual([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    expect(header.trimEnd()).toBe("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }");
    expect(header.endsWith("\n")).toBe(true);
    expect((10 + headerLength) % 64).toBe(0);
    expect(npy.byteLength).toBe(10 + headerLength + 24);
  });

  it.each(Object.entries(samples))("round-trips %s exactly, bit for bit", (dtype, data) => {
    const npy = encodeNpy(data, [data.length], dtype as TensorDType);
    const back = decodeNpy(npy);
    expect(back.dtype).toBe(dtype);
    expect(back.shape).toEqual([data.length]);
    expect(bitsOf(back.data)).toEqual(bitsOf(data));
  });

  it("writes a one-element shape with NumPy's trailing comma, and an empty shape for a scalar", () => {
    const one = new TextDecoder().decode(encodeNpy(new Int8Array(4), [4], "int8").subarray(10, 80));
    expect(one).toContain("'shape': (4,)");
    const scalar = encodeNpy(new Int8Array([9]), [], "int8");
    expect(decodeNpy(scalar)).toMatchObject({ shape: [], dtype: "int8" });
  });

  it("decodes from a Node Buffer (whose slice() is a view into a shared pool)", () => {
    const npy = encodeNpy(new Float64Array([1.5, -2.25]), [2], "float64");
    const fromBase64 = Buffer.from(Buffer.from(npy).toString("base64"), "base64");
    expect([...decodeNpy(fromBase64).data]).toEqual([1.5, -2.25]);
  });

  it("rejects bytes that are not .npy, big-endian or Fortran-ordered data, and truncated data", () => {
    expect(() => decodeNpy(new Uint8Array([1, 2, 3]))).toThrow(/magic string/);
    const swap = (from: string, to: string) =>
      replaceHeader(encodeNpy(new Float32Array(2), [2], "float32"), from, to);
    expect(() => decodeNpy(swap("<f4", ">f4"))).toThrow(/little-endian numeric dtype in C order/);
    expect(() => decodeNpy(swap("False", "True "))).toThrow(/C order/);
    const npy = encodeNpy(new Float64Array(4), [4], "float64");
    expect(() => decodeNpy(npy.subarray(0, npy.length - 1))).toThrow(/Truncated .npy data/);
  });

  it("reads a version 1.0 header as latin1 and a version 3.0 header as UTF-8", () => {
    // 0xe9 is "é" in latin1; 0x80 is a C1 control there but "€" in windows-1252, which Node 22+
    // decodes for the label "latin1".
    const v1 = replaceHeader(encodeNpy(new Int8Array(1), [1], "int8"), "|i1", "\xe9\x80?");
    expect(() => decodeNpy(v1)).toThrow("{'descr': '\u00e9\u0080?', ");
    // Version 3: a 4-byte header length, then the header in UTF-8 ("é" is 0xc3 0xa9).
    const header = new TextEncoder().encode(
      "{'descr': 'é', 'fortran_order': False, 'shape': (1,), }\n",
    );
    const v3 = new Uint8Array([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 3, 0, 0, 0, 0, 0, ...header, 0]);
    new DataView(v3.buffer).setUint32(8, header.length, true);
    expect(() => decodeNpy(v3)).toThrow("{'descr': 'é', ");
  });

  it("is read by numpy.load with the same values, shape and dtype", () => {
    const python = ["python3", "/usr/bin/python3"].find(
      (bin) => spawnSync(bin, ["-c", "import numpy"]).status === 0,
    );
    expect(python, "a python3 with numpy (the CI script installs python3-numpy)").toBeDefined();
    const tensor = new Tensor(
      Float32Array.from({ length: 6 }, (_, i) => i / 4),
      [2, 3],
    );
    const script =
      "import sys, io, numpy; a = numpy.load(io.BytesIO(sys.stdin.buffer.read())); print(a.dtype, a.shape, a.tolist())";
    const out = spawnSync(python as string, ["-c", script], { input: tensor.toNpy() });
    expect(out.stderr.toString()).toBe("");
    expect(out.stdout.toString().trim()).toBe(
      "float32 (2, 3) [[0.0, 0.25, 0.5], [0.75, 1.0, 1.25]]",
    );
    const half = new Tensor(new Uint16Array([0x3c00, 0x3800]), [2], "float16");
    const halfOut = spawnSync(python as string, ["-c", script], { input: half.toNpy() });
    expect(halfOut.stdout.toString().trim()).toBe("float16 (2,) [1.0, 0.5]");
  });
});

describe("Tensor", () => {
  it("checks that the shape holds the data and that float16 data is a Uint16Array", () => {
    expect(() => new Tensor(new Float32Array(6), [4, 2])).toThrow(
      "Expected `shape` [4, 2] to hold the 6 elements of `data`",
    );
    expect(() => new Tensor(new Float32Array(2) as never, [2], "float16")).toThrow(
      "Expected `data` to be the TypedArray of dtype float16, got Float32Array",
    );
    expect(() => new Tensor(new Float32Array(2), [-1, -2])).toThrow(/to hold/);
  });

  it("crosses a process boundary as a Tensor with its shape and dtype, exact for every dtype", () => {
    for (const [dtype, data] of Object.entries(samples)) {
      const tensor = new Tensor(data, [data.length], dtype as TensorDType);
      const back = (decodeValue(encodeValue({ nested: [tensor] })) as { nested: Tensor[] })
        .nested[0];
      expect(back).toBeInstanceOf(Tensor);
      expect(back?.dtype).toBe(dtype);
      expect(back?.shape).toEqual([data.length]);
      expect(bitsOf(back?.data as Tensor["data"])).toEqual(bitsOf(data));
    }
  });

  it("becomes fal-style JSON holding the .npy bytes as a data URL", () => {
    const tensor = new Tensor(new Int16Array([1, 2, 3, 4]), [2, 2]);
    const json = JSON.parse(JSON.stringify({ t: tensor }));
    expect(json.t).toMatchObject({
      content_type: "application/x-npy",
      shape: [2, 2],
      dtype: "int16",
    });
    const b64 = (json.t.url as string).replace("data:application/x-npy;base64,", "");
    const back = decodeNpy(new Uint8Array(Buffer.from(b64, "base64")));
    expect([...back.data]).toEqual([1, 2, 3, 4]);
  });
});
