// The page's side of the layout worker: one worker per widget view, started from the
// worker source inlined in the bundle, the newest request winning.
import workerSource from "inline-worker:layout-worker";

/** After this long a layout is given up and the worker replaced, so a view never hangs. */
const TIMEOUT_MS = 20000;

export class Layouter {
  constructor() {
    this.url = URL.createObjectURL(new Blob([workerSource], { type: "text/javascript" }));
    this.worker = null;
    this.next = 0;
    this.pending = null;
  }

  /**
   * @param {{nodes: {id: string, width: number, height: number, group?: string}[], edges: [string, string][]}} graph
   * @returns {Promise<{positions: Record<string, [number, number]>, routes: Record<string, [number, number][]>,
   *   width: number, height: number, engine: string, ms: number} | null>} null when a newer request replaced it
   */
  layout(graph) {
    if (this.pending) this.pending.resolve(null);
    const id = ++this.next;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.restart();
        reject(new Error(`layout took over ${TIMEOUT_MS / 1000} s`));
      }, TIMEOUT_MS);
      this.pending = {
        id,
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.ensureWorker().postMessage({ id, graph });
    });
  }

  ensureWorker() {
    if (!this.worker) {
      this.worker = new Worker(this.url);
      this.worker.onmessage = ({ data }) => {
        const pending = this.pending;
        if (!pending || pending.id !== data.id) return;
        this.pending = null;
        if (data.error) pending.reject(new Error(data.error));
        else pending.resolve(data.result);
      };
    }
    return this.worker;
  }

  restart() {
    if (this.worker) this.worker.terminate();
    this.worker = null;
    this.pending = null;
  }

  dispose() {
    this.restart();
    URL.revokeObjectURL(this.url);
  }
}
