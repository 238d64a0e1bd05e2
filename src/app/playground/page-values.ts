/**
 * What the playground page reads out of a result, as browser JavaScript source: the images in it
 * (fal's `{ content_type: "image/…", url }` objects, and bare `data:image/…` strings), its
 * progress, and a copy fit for display with data URLs cut short.
 */
// biome-ignore lint/complexity/noUselessStringRaw: raw, so a backslash added later reaches the page as written
export const VALUES_SOURCE = String.raw`
var MAX_IMAGES = 16;
var MAX_DEPTH = 8;

function findImages(value, out, depth) {
  out = out || [];
  depth = depth || 0;
  if (out.length >= MAX_IMAGES || depth > MAX_DEPTH || value === null) return out;
  if (typeof value === "string") {
    if (value.slice(0, 11) === "data:image/") out.push({ url: value });
    return out;
  }
  if (typeof value !== "object") return out;
  if (
    !Array.isArray(value) &&
    typeof value.content_type === "string" &&
    value.content_type.slice(0, 6) === "image/" &&
    typeof value.url === "string"
  ) {
    out.push({ url: value.url, width: value.width, height: value.height });
    return out;
  }
  var items = Array.isArray(value) ? value : Object.keys(value).map(function (k) {
    return value[k];
  });
  for (var i = 0; i < items.length && out.length < MAX_IMAGES; i++) findImages(items[i], out, depth + 1);
  return out;
}

/** A fraction in [0, 1] from "progress", else from "step" / "steps"; null when neither is there. */
function progressOf(value) {
  if (!value || typeof value !== "object" || Array.isArray(value)) return null;
  if (typeof value.progress === "number" && Number.isFinite(value.progress)) {
    return Math.min(1, Math.max(0, value.progress));
  }
  if (typeof value.step === "number" && typeof value.steps === "number" && value.steps > 0) {
    return Math.min(1, Math.max(0, value.step / value.steps));
  }
  return null;
}

/** The result itself, or the result inside a "{ rank, result }" envelope (streamAllRanks). */
function unwrapRank(value) {
  if (
    value && typeof value === "object" && !Array.isArray(value) &&
    typeof value.rank === "number" && "result" in value && Object.keys(value).length === 2
  ) return value.result;
  return value;
}

function displayJson(value, space) {
  return JSON.stringify(
    value,
    function (_key, v) {
      if (typeof v === "string" && v.length > 120 && v.slice(0, 5) === "data:") {
        return v.slice(0, 48) + "… (" + v.length + " characters)";
      }
      return v;
    },
    space,
  );
}
`;
