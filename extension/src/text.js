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
