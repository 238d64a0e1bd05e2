import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { transform } from "esbuild";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { App, endpoint } from "../../src/app/index.ts";
import { ErrorCode, InvalidArgumentError } from "../../src/errors.ts";

const input = z.object({ name: z.string() });
const LEGACY =
  /@endpoint\("\/"\) on greet was called as a legacy decorator: troupe's @endpoint is a standard \(TC39\) decorator; turn off `experimentalDecorators` in tsconfig\.json/;

/** What `experimentalDecorators` makes of a method decorator: `(prototype, key, descriptor)`. */
type LegacyMethodDecorator = (target: object, key: string, descriptor: PropertyDescriptor) => void;

describe("@endpoint compiled with experimentalDecorators", () => {
  it("throws INVALID_ARGUMENT when called with the legacy shape", () => {
    class Greeter extends App {
      async greet() {}
    }
    const decorate = endpoint("/", { input }) as unknown as LegacyMethodDecorator;
    const descriptor = Object.getOwnPropertyDescriptor(Greeter.prototype, "greet");
    let thrown: unknown;
    try {
      decorate(Greeter.prototype, "greet", descriptor as PropertyDescriptor);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidArgumentError);
    expect((thrown as InvalidArgumentError).code).toBe(ErrorCode.INVALID_ARGUMENT);
    expect((thrown as Error).message).toMatch(LEGACY);
  });

  it("throws when esbuild compiled the class with experimentalDecorators", async () => {
    const { code } = await transform(
      `class Greeter { @endpoint("/", { input }) async greet() {} }`,
      { loader: "ts", tsconfigRaw: { compilerOptions: { experimentalDecorators: true } } },
    );
    // The compiled class refers to `endpoint` and `input`; nothing else is in scope.
    const define = new Function("endpoint", "input", code);
    expect(() => define(endpoint, input)).toThrow(LEGACY);
  });

  it("is refused by `troupe run` in one line when the project's tsconfig turns them on", async () => {
    // tsx reads tsconfig.json in the working directory: the fixture's turns the option on.
    const cwd = fileURLToPath(new URL("../fixtures/init/legacy-decorators/", import.meta.url));
    const cli = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
    const tsx = createRequire(import.meta.url).resolve("tsx");
    const { code, stdout, stderr } = await new Promise<{
      code: unknown;
      stdout: string;
      stderr: string;
    }>((resolve) => {
      execFile(
        process.execPath,
        ["--import", tsx, cli, "run", "app.ts", "--port", "0"],
        { cwd },
        (error, out, err) => resolve({ code: error?.code ?? 0, stdout: out, stderr: err }),
      );
    });
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toMatch(LEGACY);
    expect(stderr).toMatch(/\(INVALID_ARGUMENT\)\n$/);
    expect(stderr.split("\n")).toHaveLength(2);
  });
});

describe("@endpoint compiled as a standard decorator", () => {
  it("refuses anything but a method", () => {
    const decorate = endpoint("/", { input }) as unknown as (
      value: undefined,
      context: { kind: string; name: string; static: boolean; private: boolean },
    ) => void;
    expect(() =>
      decorate(undefined, { kind: "field", name: "greet", static: false, private: false }),
    ).toThrow(new InvalidArgumentError('@endpoint("/") needs a method, got a field (greet)'));
  });
});
