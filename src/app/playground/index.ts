export { type PlaygroundOptions, playgroundHtml } from "./playground-html.ts";
