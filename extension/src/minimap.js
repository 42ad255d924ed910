// The whole graph in miniature with the visible part outlined; press or drag on it to go
// there. The nodes are painted once per change into an offscreen canvas, so panning only
// redraws the outline.
import { colorOf, theme } from "./colors.js";

const WIDTH = 200;
const HEIGHT = 120;

export class Minimap {
  constructor(stage, onJump) {
    this.canvas = document.createElement("canvas");
    this.canvas.className = "caw-dag-minimap";
    this.canvas.width = WIDTH;
    this.canvas.height = HEIGHT;
    this.ctx = this.canvas.getContext("2d");
    this.cache = document.createElement("canvas");
    this.cache.width = WIDTH;
    this.cache.height = HEIGHT;
    stage.appendChild(this.canvas);
    const jump = (event) => {
      const rect = this.canvas.getBoundingClientRect();
      const [wx, wy] = this.toWorld(event.clientX - rect.left, event.clientY - rect.top);
      onJump(wx, wy);
    };
    this.canvas.addEventListener("pointerdown", (event) => {
      event.stopPropagation();
      this.canvas.setPointerCapture(event.pointerId);
      jump(event);
    });
    this.canvas.addEventListener("pointermove", (event) => {
      if (event.buttons) jump(event);
    });
  }

  setVisible(visible) {
    this.canvas.style.display = visible ? "block" : "none";
  }

  paint(scene) {
    this.scene = scene;
    const b = scene.bounds;
    this.scale = Math.min((WIDTH - 8) / Math.max(1, b.w), (HEIGHT - 8) / Math.max(1, b.h));
    this.ox = (WIDTH - b.w * this.scale) / 2 - b.x * this.scale;
    this.oy = (HEIGHT - b.h * this.scale) / 2 - b.y * this.scale;
    const ctx = this.cache.getContext("2d");
    ctx.clearRect(0, 0, WIDTH, HEIGHT);
    for (const n of scene.nodes) {
      ctx.fillStyle = n.kind === "group" ? theme.groupNode.stroke : colorOf(n.status).stroke;
      ctx.fillRect(n.x * this.scale + this.ox, n.y * this.scale + this.oy,
        Math.max(1, n.w * this.scale), Math.max(1, n.h * this.scale));
    }
  }

  drawView(view) {
    if (!this.scene) return;
    const { ctx } = this;
    ctx.clearRect(0, 0, WIDTH, HEIGHT);
    ctx.fillStyle = theme.minimapBg;
    ctx.fillRect(0, 0, WIDTH, HEIGHT);
    ctx.drawImage(this.cache, 0, 0);
    const r = view.worldRect();
    ctx.strokeStyle = "#1565c0";
    ctx.lineWidth = 1.5;
    ctx.strokeRect(r.x * this.scale + this.ox, r.y * this.scale + this.oy, r.w * this.scale, r.h * this.scale);
  }

  toWorld(mx, my) {
    return [(mx - this.ox) / this.scale, (my - this.oy) / this.scale];
  }

  destroy() {
    this.canvas.remove();
  }
}
