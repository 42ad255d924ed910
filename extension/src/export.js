// Save what the view shows as a file: SVG (the small graphs the SVG renderer draws, with
// the styles their classes get inlined) or PNG (any size), the whole graph at 1:1 or less.
import { theme } from "./colors.js";

const PAD = 16;
const MAX_PNG_SIDE = 8000;

/** The whole scene as a standalone SVG document, from the SVG renderer's own elements. */
export function sceneSvg(renderer, scene) {
  const b = scene.bounds;
  const [w, h] = [Math.ceil(b.w + 2 * PAD), Math.ceil(b.h + 2 * PAD)];
  const svg = renderer.svg.cloneNode(true);
  svg.setAttribute("xmlns", "http://www.w3.org/2000/svg");
  svg.setAttribute("width", String(w));
  svg.setAttribute("height", String(h));
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.querySelector(".caw-dag-world").setAttribute("transform", `translate(${PAD - b.x},${PAD - b.y})`);
  const style = document.createElementNS("http://www.w3.org/2000/svg", "style");
  style.textContent = `text{font:12px sans-serif}.caw-node-group text{font-weight:600}.caw-count{font-size:9px;fill:#fff}
.caw-edge{fill:none;stroke-width:1.3}.caw-group-label{font-weight:600}`;
  const background = document.createElementNS("http://www.w3.org/2000/svg", "rect");
  for (const [k, v] of Object.entries({ width: w, height: h, fill: theme.dark ? "#111" : "#fff" })) {
    background.setAttribute(k, String(v));
  }
  svg.prepend(style, background);
  return new XMLSerializer().serializeToString(svg);
}

/** The whole scene as PNG: an SVG picture rasterised, or the canvas renderer redrawn offscreen. */
export async function scenePng(renderer, scene) {
  const b = scene.bounds;
  const k = Math.min(1, MAX_PNG_SIDE / (b.w + 2 * PAD), MAX_PNG_SIDE / (b.h + 2 * PAD));
  const [w, h] = [Math.ceil((b.w + 2 * PAD) * k), Math.ceil((b.h + 2 * PAD) * k)];
  const canvas = document.createElement("canvas");
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext("2d");
  if (renderer.kind === "svg") {
    const image = new Image();
    const url = URL.createObjectURL(new Blob([sceneSvg(renderer, scene)], { type: "image/svg+xml" }));
    await new Promise((resolve, reject) => {
      image.onload = resolve;
      image.onerror = reject;
      image.src = url;
    });
    ctx.drawImage(image, 0, 0, w, h);
    URL.revokeObjectURL(url);
  } else {
    renderer.drawInto(ctx, { x: (PAD - b.x) * k, y: (PAD - b.y) * k, k, width: w, height: h });
  }
  return new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
}

/** Offer ``blob`` as a download named ``name``. */
export function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
