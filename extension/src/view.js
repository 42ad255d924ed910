// Pan and zoom: screen = world * k + (x, y).

export const MIN_ZOOM = 0.02;
export const MAX_ZOOM = 3;

export class View {
  constructor() {
    this.x = 0;
    this.y = 0;
    this.k = 1;
    this.width = 1;
    this.height = 1;
    this.floor = MIN_ZOOM;
  }

  toWorld(sx, sy) {
    return [(sx - this.x) / this.k, (sy - this.y) / this.k];
  }

  toScreen(wx, wy) {
    return [wx * this.k + this.x, wy * this.k + this.y];
  }

  zoomAt(sx, sy, factor) {
    const k = Math.min(MAX_ZOOM, Math.max(this.floor, this.k * factor));
    const [wx, wy] = this.toWorld(sx, sy);
    this.k = k;
    this.x = sx - wx * k;
    this.y = sy - wy * k;
  }

  panBy(dx, dy) {
    this.x += dx;
    this.y += dy;
  }

  /** Show ``bounds`` whole in the left ``width`` pixels (the part no panel covers), never
   * magnified past 1:1 so a three-task graph is not huge. Any size fits: the zoom-out floor
   * drops to the fitting scale, so a person can zoom back out to it. */
  fit(bounds, width = this.width, pad = 24) {
    const k = Math.min(1, (width - 2 * pad) / Math.max(1, bounds.w), (this.height - 2 * pad) / Math.max(1, bounds.h));
    this.k = Math.max(1e-5, k);
    this.floor = Math.min(MIN_ZOOM, this.k);
    this.x = (width - bounds.w * this.k) / 2 - bounds.x * this.k;
    this.y = (this.height - bounds.h * this.k) / 2 - bounds.y * this.k;
  }

  centreOn(wx, wy, k = Math.max(this.k, 0.8)) {
    this.k = Math.min(MAX_ZOOM, k);
    this.x = this.width / 2 - wx * this.k;
    this.y = this.height / 2 - wy * this.k;
  }

  /** The visible part of the world, for culling. */
  worldRect() {
    const [x0, y0] = this.toWorld(0, 0);
    const [x1, y1] = this.toWorld(this.width, this.height);
    return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
  }
}
