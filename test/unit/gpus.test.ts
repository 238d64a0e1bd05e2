import { describe, expect, it } from "vitest";
import { detectGpus, parseNvidiaSmiList, parseVisibleDevices } from "../../src/runner/gpus.ts";

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
