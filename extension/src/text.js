// Label sizing without measuring the DOM, so 5,000 labels cost nothing to fit.

const CHAR_WIDTH = 6.7;

/** ``text`` cut with an ellipsis to fit about ``width`` pixels at the widget's 12 px font. */
export function fitText(text, width) {
  const max = Math.max(1, Math.floor(width / CHAR_WIDTH));
  return text.length <= max ? text : text.slice(0, max - 1) + "…";
}

const ORDER = ["completed", "in_progress", "planning", "paused", "failed", "pending", "blocked", "skipped"];

/** One coloured pill per status present, sized to its count: ``[{status, count, width}]``. */
export function countsBar(counts) {
  return ORDER.filter((s) => counts[s]).map((status) => ({
    status, count: counts[status], width: 10 + 6 * String(counts[status]).length,
  }));
}

/** ``ms`` as a person reads a duration: "840 ms", "12.4 s", "3m 05s", "2h 07m". */
export function formatDuration(ms) {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}
