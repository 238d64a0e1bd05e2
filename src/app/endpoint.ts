import type { z } from "zod";
import { InvalidArgumentError } from "../errors.ts";
import { REQUESTS_PATH } from "../events/sse-names.ts";

/** Options of {@link endpoint}. */
export interface EndpointOptions<Schema extends z.ZodType = z.ZodType> {
  /** Validates (and fills defaults of) the JSON body; the method receives the parsed value. */
  readonly input: Schema;
  /**
   * Whether the endpoint answers with a stream, as `GET /openapi.json` and the playground
   * announce it. What the method returns decides the response itself: a `StreamingResponse` is
   * streamed whatever this says.
   * @default false
   */
  readonly streaming?: boolean;
  /** One line for the OpenAPI document and the playground. @default none */
  readonly summary?: string;
}

/** What the handler gets besides its input. */
export interface EndpointContext {
  /** The request's id (the `x-request-id` of the response); pass it to `runner.stream()`. */
  readonly requestId: string;
  /** Aborts when the client goes away or the server shuts down. */
  readonly signal: AbortSignal;
}

/** An endpoint as the server sees it. */
export interface EndpointDefinition {
  readonly path: string;
  readonly methodName: string;
  readonly input: z.ZodType;
  readonly streaming: boolean;
  readonly summary: string | undefined;
  readonly handler: (input: unknown, context: EndpointContext) => unknown;
}

/**
 * Endpoints by app instance. Kept on globalThis under a registered symbol, so an app whose
 * decorators come from another copy of troupe (its sources, say, served by the compiled
 * `troupe run`) is still found.
 */
const REGISTRY = Symbol.for("troupe.endpoints");
const shared = globalThis as unknown as Record<symbol, WeakMap<object, EndpointDefinition[]>>;
shared[REGISTRY] ??= new WeakMap();
const registry = shared[REGISTRY];

/**
 * Marks a method of an {@link App} as `POST <path>`; the body is validated with `input`.
 * A standard (TC39) decorator: registration happens when the app is constructed, so it needs
 * no `Symbol.metadata`. Compiled with `experimentalDecorators` it throws INVALID_ARGUMENT when
 * the class is defined, saying so.
 *
 * @example
 * ```ts
 * @endpoint("/stream", { input: MyRequest })
 * async stream(request: z.infer<typeof MyRequest>) { ... }
 * ```
 */
export function endpoint<Schema extends z.ZodType>(path: string, options: EndpointOptions<Schema>) {
  checkPath(path);
  if (options === null || typeof options !== "object" || !isZodType(options.input)) {
    throw new InvalidArgumentError(
      `Expected \`input\` of endpoint ${path} to be a zod schema, got ${String(options?.input)}`,
    );
  }
  if (options.streaming !== undefined && typeof options.streaming !== "boolean") {
    throw new InvalidArgumentError(
      `Expected \`streaming\` of endpoint ${path} to be a boolean, got ${JSON.stringify(options.streaming)}`,
    );
  }
  return <This extends object, Args extends [z.infer<Schema>, ...EndpointContext[]], Return>(
    _method: (this: This, ...args: Args) => Return,
    context: ClassMethodDecoratorContext<This, (this: This, ...args: Args) => Return>,
  ): void => {
    checkStandardMethod(path, context);
    if (context.static || context.private) {
      throw new InvalidArgumentError(
        `@endpoint(${JSON.stringify(path)}) needs a public instance method, got ${String(context.name)}`,
      );
    }
    const streaming = options.streaming ?? false;
    context.addInitializer(function (this: This) {
      const list = registry.get(this) ?? [];
      registry.set(this, list);
      // A subclass overriding the method runs the initializer again: the last one wins.
      const name = String(context.name);
      const at = list.findIndex((e) => e.methodName === name);
      const definition: EndpointDefinition = {
        path,
        methodName: name,
        input: options.input,
        streaming,
        summary: options.summary,
        handler: (input, ctx) =>
          (this as Record<string, (...a: unknown[]) => unknown>)[name]?.(input, ctx),
      };
      if (at >= 0) list[at] = definition;
      else list.push(definition);
    });
  };
}

/** The endpoints declared on `app`'s class (and its base classes), in declaration order. */
export function endpointsOf(app: object): readonly EndpointDefinition[] {
  return registry.get(app) ?? [];
}

/**
 * With `experimentalDecorators`, tsc, tsx and esbuild emit legacy decorators, called as
 * `(prototype, key, descriptor)`: the second argument is the method's name, not a context, and
 * `context.addInitializer` would fail with a TypeError that names nothing the user wrote.
 */
function checkStandardMethod(path: string, context: unknown): void {
  const kind =
    typeof context === "object" && context !== null
      ? (context as { kind?: unknown }).kind
      : undefined;
  if (typeof kind !== "string") {
    const key = typeof context === "string" ? ` on ${context}` : "";
    throw new InvalidArgumentError(
      `@endpoint(${JSON.stringify(path)})${key} was called as a legacy decorator: troupe's @endpoint is a standard (TC39) decorator; turn off \`experimentalDecorators\` in tsconfig.json`,
    );
  }
  if (kind !== "method") {
    throw new InvalidArgumentError(
      `@endpoint(${JSON.stringify(path)}) needs a method, got a ${kind} (${String((context as { name?: unknown }).name)})`,
    );
  }
}

function checkPath(path: string): void {
  if (typeof path !== "string" || !/^\/[A-Za-z0-9._~!$&'()+,;=@/-]*$/.test(path)) {
    throw new InvalidArgumentError(
      `Expected an endpoint path like "/stream" (no parameters or query), got ${JSON.stringify(path)}`,
    );
  }
  if (path === REQUESTS_PATH || path.startsWith(`${REQUESTS_PATH}/`)) {
    throw new InvalidArgumentError(`The path ${path} is reserved for resuming and cancelling`);
  }
}

function isZodType(value: unknown): value is z.ZodType {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { safeParse?: unknown }).safeParse === "function"
  );
}
