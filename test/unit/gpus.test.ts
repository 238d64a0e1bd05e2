import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../src/errors.ts";
import {
  assignGpus,
  detectGpus,
  parseNvidiaSmiList,
  parseVisibleDevices,
} from "../../src/runner/gpus.ts";

describe("parseVisibleDevices", () => {
  it.each([
    ["0", ["0"]],
    ["0,1", ["0", "1"]],
    ["3,1,2", ["3", "1", "2"]],
    [" 0 , 1 ", ["0", "1"]],
    [
      "GPU-8b3f1c2e-1a2b-4c5d-9e8f-0123456789ab,MIG-1f2e3d4c-aaaa-bbbb-cccc-000000000001",
      ["GPU-8b3f1c2e-1a2b-4c5d-9e8f-0123456789ab", "MIG-1f2e3d4c-aaaa-bbbb-cccc-000000000001"],
    ],
    ["0,GPU-abc", ["0", "GPU-abc"]],
  ])("reads %j as the devices %j", (value, ids) => {
    expect(parseVisibleDevices(value)).toEqual(ids);
  });

  it.each([
    ["", []],
    ["-1", []],
    [" ", []],
    ["0,-1,2", ["0"]],
    ["1,2,-1", ["1", "2"]],
    ["0,,1", ["0"]],
    ["0,1,", ["0", "1"]],
  ])("stops at the first empty or negative id, as CUDA does: %j gives %j", (value, ids) => {
    expect(parseVisibleDevices(value)).toEqual(ids);
  });
});

describe("parseNvidiaSmiList", () => {
  it("lists the ordinal of every GPU line of `nvidia-smi -L`", () => {
    const output = [
      "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-8b3f1c2e-1a2b-4c5d-9e8f-0123456789ab)",
      "GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-1c2d3e4f-5a6b-7c8d-9e0f-abcdefabcdef)",
      "GPU 10: NVIDIA A100-SXM4-40GB (UUID: GPU-00000000-0000-0000-0000-000000000010)",
      "",
    ].join("\n");
    expect(parseNvidiaSmiList(output)).toEqual(["0", "1", "10"]);
  });

  it("skips the MIG device lines listed under a GPU", () => {
    const output = [
      "GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-5fa3a4b1-0000-1111-2222-333344445555)",
      "  MIG 3g.40gb     Device  0: (UUID: MIG-0a1b2c3d-0000-1111-2222-333344445555)",
      "  MIG 3g.40gb     Device  1: (UUID: MIG-4e5f6a7b-0000-1111-2222-333344445555)",
      "GPU 1: NVIDIA A100-SXM4-80GB (UUID: GPU-6fa3a4b1-0000-1111-2222-333344445555)",
      "",
    ].join("\n");
    expect(parseNvidiaSmiList(output)).toEqual(["0", "1"]);
  });

  it("reads Windows line endings", () => {
    expect(
      parseNvidiaSmiList("GPU 0: Tesla T4 (UUID: GPU-a)\r\nGPU 1: Tesla T4 (UUID: GPU-b)\r\n"),
    ).toEqual(["0", "1"]);
  });

  it("finds no GPU in empty output or in an error message", () => {
    expect(parseNvidiaSmiList("")).toEqual([]);
    expect(
      parseNvidiaSmiList(
        "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n",
      ),
    ).toEqual([]);
    expect(parseNvidiaSmiList("No devices were found\n")).toEqual([]);
  });
});

describe("detectGpus", () => {
  it("uses CUDA_VISIBLE_DEVICES when it is set, and says so", async () => {
    await expect(detectGpus({ CUDA_VISIBLE_DEVICES: "1,3" })).resolves.toEqual({
      ids: ["1", "3"],
      source: "CUDA_VISIBLE_DEVICES=1,3",
    });
  });

  it("finds no GPU when CUDA_VISIBLE_DEVICES is empty or -1", async () => {
    await expect(detectGpus({ CUDA_VISIBLE_DEVICES: "" })).resolves.toEqual({
      ids: [],
      source: "CUDA_VISIBLE_DEVICES=",
    });
    await expect(detectGpus({ CUDA_VISIBLE_DEVICES: "-1" })).resolves.toEqual({
      ids: [],
      source: "CUDA_VISIBLE_DEVICES=-1",
    });
  });

  it("keeps UUIDs from CUDA_VISIBLE_DEVICES up to the first invalid entry", async () => {
    const { ids } = await detectGpus({ CUDA_VISIBLE_DEVICES: "GPU-a,MIG-b,-1,2" });
    expect(ids).toEqual(["GPU-a", "MIG-b"]);
  });
});

describe("assignGpus", () => {
  it("gives the ranks the ids passed, and hides every GPU for an empty list", async () => {
    await expect(assignGpus(["2", "5"], 2, {})).resolves.toEqual({ ids: ["2", "5"], hide: false });
    await expect(assignGpus([], 2, { CUDA_VISIBLE_DEVICES: "0,1" })).resolves.toEqual({
      ids: [],
      hide: true,
    });
  });

  it("gives each rank one of the detected GPUs, in order, with auto", async () => {
    await expect(assignGpus("auto", 2, { CUDA_VISIBLE_DEVICES: "3,1,2" })).resolves.toEqual({
      ids: ["3", "1"],
      hide: false,
    });
  });

  it("runs on CPU without hiding anything when auto finds no GPU", async () => {
    await expect(assignGpus("auto", 4, { CUDA_VISIBLE_DEVICES: "-1" })).resolves.toEqual({
      ids: [],
      hide: false,
    });
  });

  it("rejects auto finding fewer GPUs than ranks, naming both counts and where they came from", async () => {
    const error = await assignGpus("auto", 3, { CUDA_VISIBLE_DEVICES: "0,1" }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toBe(
      "Expected at least 3 GPUs for worldSize 3, found 2 (CUDA_VISIBLE_DEVICES=0,1); pass gpus: [] to run on CPU",
    );
  });
});
