// Status colours, shared by both renderers, the legend and the minimap. The page's theme
// picks the set: ``applyTheme`` reads JupyterLab's --jp-* variables where the widget is drawn
// (its background, text and border colours) and switches to the dark set on a dark background.

/** stroke: border, bar and minimap dot; fill: node background; text: label colour on ``fill``. */
export const STATUS_COLORS = {
  pending: { stroke: "#78909c", fill: "#eceff1", text: "#263238" },
  blocked: { stroke: "#b0bec5", fill: "#f5f7f8", text: "#78909c" },
  planning: { stroke: "#8e24aa", fill: "#f3e5f5", text: "#4a148c" },
  in_progress: { stroke: "#1e88e5", fill: "#e3f2fd", text: "#0d47a1" },
  paused: { stroke: "#fb8c00", fill: "#fff3e0", text: "#e65100" },
  completed: { stroke: "#43a047", fill: "#e8f5e9", text: "#1b5e20" },
  failed: { stroke: "#e53935", fill: "#ffebee", text: "#b71c1c" },
  skipped: { stroke: "#a1887f", fill: "#efebe9", text: "#4e342e" },
};

export const DARK_STATUS_COLORS = {
  pending: { stroke: "#90a4ae", fill: "#2b363c", text: "#eceff1" },
  blocked: { stroke: "#78909c", fill: "#20292e", text: "#b0bec5" },
  planning: { stroke: "#ce93d8", fill: "#3a2342", text: "#f3e5f5" },
  in_progress: { stroke: "#64b5f6", fill: "#13304d", text: "#e3f2fd" },
  paused: { stroke: "#ffb74d", fill: "#45300f", text: "#ffe0b2" },
  completed: { stroke: "#81c784", fill: "#1b3a1f", text: "#e8f5e9" },
  failed: { stroke: "#e57373", fill: "#461a1a", text: "#ffebee" },
  skipped: { stroke: "#bcaaa4", fill: "#352b27", text: "#efebe9" },
};

export const UNKNOWN = { stroke: "#9e9e9e", fill: "#fafafa", text: "#212121" };
/** The light theme's graph colours, kept as constants for pages that import them; the renderers read ``theme``. */
export const EDGE = "#b0b7bd";
export const EDGE_UP = "#1565c0";
export const EDGE_DOWN = "#ef6c00";
export const SELECTED = "#212121";
export const MATCH = "#fdd835";
export const GROUP_BOX = { fill: "rgba(120, 144, 156, 0.07)", stroke: "#90a4ae", text: "#455a64" };

/** The colours the renderers draw with; ``applyTheme`` rewrites them in place. */
export const theme = {
  dark: false,
  status: STATUS_COLORS,
  edge: EDGE,
  edgeUp: EDGE_UP,
  edgeDown: EDGE_DOWN,
  selected: SELECTED,
  match: MATCH,
  hover: "#546e7a",
  groupBox: GROUP_BOX,
  groupNode: { stroke: "#546e7a", fill: "#fafafa", text: "#263238" },
  minimapBg: "rgba(255, 255, 255, 0.92)",
};

export const colorOf = (status) => theme.status[status] || UNKNOWN;

/** A CSS colour expression (``var(--jp-…, fallback)``) resolved where ``el`` is drawn; the
 * fallback while ``el`` is not on the page yet (nothing resolves there). */
function resolve(el, expression) {
  const fallback = expression.match(/,\s*(.+)\)$/)?.[1] || "#888";
  if (!el.isConnected) return fallback;
  const probe = document.createElement("span");
  probe.style.cssText = `display:none;color:${expression}`;
  el.appendChild(probe);
  const colour = getComputedStyle(probe).color;
  probe.remove();
  return colour || fallback;
}

function luminance(rgb) {
  const [r, g, b] = (rgb.match(/[\d.]+/g) || ["255", "255", "255"]).map(Number);
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
}

/** Read the theme where ``el`` is drawn; returns whether anything changed (so a view repaints). */
export function applyTheme(el) {
  const background = resolve(el, "var(--jp-layout-color0, #fff)");
  const dark = luminance(background) < 0.45;
  const before = JSON.stringify(theme);
  Object.assign(theme, {
    dark,
    status: dark ? DARK_STATUS_COLORS : STATUS_COLORS,
    edge: resolve(el, `var(--jp-border-color1, ${dark ? "#616161" : "#b0b7bd"})`),
    edgeUp: dark ? "#64b5f6" : "#1565c0",
    edgeDown: dark ? "#ffb74d" : "#ef6c00",
    selected: resolve(el, "var(--jp-ui-font-color0, #212121)"),
    hover: resolve(el, "var(--jp-ui-font-color2, #546e7a)"),
    groupBox: { fill: dark ? "rgba(176, 190, 197, 0.08)" : "rgba(120, 144, 156, 0.07)",
      stroke: resolve(el, "var(--jp-border-color1, #90a4ae)"), text: resolve(el, "var(--jp-ui-font-color2, #455a64)") },
    groupNode: { stroke: resolve(el, "var(--jp-ui-font-color2, #546e7a)"),
      fill: resolve(el, "var(--jp-layout-color1, #fafafa)"), text: resolve(el, "var(--jp-ui-font-color1, #263238)") },
    minimapBg: resolve(el, "var(--jp-layout-color1, rgba(255, 255, 255, 0.92))"),
  });
  return JSON.stringify(theme) !== before;
}
