// Status colours, shared by both renderers, the legend and the minimap.

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

export const UNKNOWN = { stroke: "#9e9e9e", fill: "#fafafa", text: "#212121" };
export const EDGE = "#b0b7bd";
export const EDGE_UP = "#1565c0";
export const EDGE_DOWN = "#ef6c00";
export const SELECTED = "#212121";
export const MATCH = "#fdd835";
export const GROUP_BOX = { fill: "rgba(120, 144, 156, 0.07)", stroke: "#90a4ae", text: "#455a64" };

export const colorOf = (status) => STATUS_COLORS[status] || UNKNOWN;
