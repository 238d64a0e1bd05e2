export { decodeControlBody, encodeCallFrame, encodeFrame } from "./control-frame.ts";
export { FrameDecoder } from "./frame-decoder.ts";
export { HEADER_BYTES, MAX_FRAME_BYTES } from "./frame-header.ts";
export type { LogLevel, RankConfig, RankMessage, RunnerMessage } from "./messages.ts";
export { parseRankMessage, parseRunnerMessage } from "./parse-message.ts";
export {
  DecodedResults,
  decodeResultsBody,
  encodeResultFrame,
  encodeResultsFrame,
  RESULT_FRAME_OVERHEAD,
} from "./results-frame.ts";
export { decodeValue, encodeValue } from "./value-codec.ts";
