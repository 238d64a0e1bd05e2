/** The playground page's stylesheet. */
// biome-ignore lint/complexity/noUselessStringRaw: raw, so a backslash added later reaches the page as written
export const PAGE_STYLE = String.raw`
:root {
  color-scheme: light dark;
  --fg: #1d1f23;
  --muted: #6b7280;
  --bg: #f7f7f8;
  --panel: #ffffff;
  --line: #d9dbe0;
  --accent: #4f46e5;
  --danger: #b42318;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
}
@media (prefers-color-scheme: dark) {
  :root { --fg: #e7e8ea; --muted: #9aa0aa; --bg: #15171a; --panel: #1d2024; --line: #343840; --accent: #8b85ff; --danger: #ff8a80; }
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; background: var(--bg); color: var(--fg); }
header { display: flex; align-items: baseline; gap: 12px; padding: 14px 20px; border-bottom: 1px solid var(--line); }
h1 { font-size: 18px; margin: 0; }
h2 { font-size: 15px; margin: 0 0 12px; }
h3 { font-size: 13px; margin: 16px 0 6px; color: var(--muted); text-transform: uppercase; letter-spacing: 0.04em; }
main { display: grid; grid-template-columns: minmax(280px, 1fr) minmax(320px, 1.4fr); gap: 16px; padding: 16px 20px; }
@media (max-width: 800px) { main { grid-template-columns: 1fr; } }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 16px; min-width: 0; }
.muted, .hint { color: var(--muted); }
label { display: block; font-weight: 600; margin-bottom: 4px; }
#key-form { margin: 16px 20px 0; max-width: 520px; }
#key-form .actions { margin-top: 8px; }
select, input[type="text"], input[type="number"], input[type="password"], textarea {
  width: 100%; padding: 6px 8px; border: 1px solid var(--line); border-radius: 6px;
  background: var(--bg); color: var(--fg); font: inherit;
}
textarea { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
.field { margin: 12px 0; }
.field-boolean { display: flex; align-items: center; gap: 8px; flex-wrap: wrap; }
.field-boolean label { order: 2; margin: 0; }
.field-boolean .hint { order: 3; width: 100%; }
.hint { display: block; margin-top: 2px; font-size: 12px; }
.actions { display: flex; gap: 8px; margin-top: 16px; }
button { padding: 7px 16px; border-radius: 6px; border: 1px solid var(--accent); background: var(--accent); color: #fff; font: inherit; font-weight: 600; cursor: pointer; }
button[type="button"] { background: transparent; color: var(--accent); }
button:disabled { opacity: 0.45; cursor: default; }
.status-row { display: flex; gap: 12px; align-items: center; flex-wrap: wrap; margin-bottom: 10px; }
#status { font-weight: 600; }
#queue { color: var(--accent); }
#request-id { color: var(--muted); font-size: 12px; }
#progress { position: relative; height: 20px; border-radius: 10px; background: var(--bg); border: 1px solid var(--line); overflow: hidden; }
#progress-fill { height: 100%; width: 0; background: var(--accent); transition: width 120ms linear; }
#progress-label { position: absolute; inset: 0; text-align: center; font-size: 12px; line-height: 18px; color: #fff; text-shadow: 0 0 3px rgba(0, 0, 0, 0.85); }
#error { margin-top: 12px; padding: 10px 12px; border: 1px solid var(--danger); border-radius: 6px; color: var(--danger); }
#error dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0; }
#error dt { font-weight: 600; }
#error dd { margin: 0; overflow-wrap: anywhere; }
#previews, .images { display: flex; flex-wrap: wrap; gap: 8px; margin-top: 12px; }
#previews img, .images img { max-width: 100%; height: auto; min-width: 64px; image-rendering: pixelated; border-radius: 6px; border: 1px solid var(--line); }
pre { margin: 0; padding: 10px; background: var(--bg); border-radius: 6px; overflow: auto; max-height: 320px; font-size: 12px; }
#log { margin: 0; padding: 8px 8px 8px 32px; background: var(--bg); border-radius: 6px; max-height: 260px; overflow: auto; font: 12px/1.5 ui-monospace, SFMono-Regular, Menlo, monospace; }
#log li { overflow-wrap: anywhere; }
.log-kind { font-weight: 600; }
.log-error .log-kind, .log-warning .log-kind { color: var(--danger); }
label.inline { display: flex; align-items: center; gap: 6px; margin: 0 0 0 auto; font-weight: 400; }
#queue-panel { grid-column: 1 / -1; }
#queued { margin: 0; padding: 0; list-style: none; display: grid; gap: 8px; }
#queued li { border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; }
.queued-head { display: flex; flex-wrap: wrap; align-items: center; gap: 10px; }
.queued-head code { font-size: 12px; color: var(--muted); }
.queued-head [data-field="state"] { font-weight: 600; color: var(--accent); }
#queued li:is([data-status="FAILED"], [data-status="LOST"]) [data-field="state"], #queued pre[data-kind="error"] { color: var(--danger); }
.queued-head button { padding: 3px 10px; margin-left: auto; background: transparent; color: var(--accent); }
#queued pre { margin-top: 8px; }
`;
