// Small pieces every screen uses: status badges, progress bars, error notes, a loader.
import { colorOf } from "../colors.js";
import { h } from "../dom.js";

export function badge(status) {
  const c = colorOf(status);
  return h("span", { class: "caw-badge", dataset: { status },
    style: `--fill:${c.fill};--stroke:${c.stroke};--text:${c.text}` }, String(status || "").replace("_", " "));
}

export function progressBar(done, total) {
  const pct = total ? Math.round((100 * done) / total) : 0;
  return h("div", { class: "caw-progress", role: "progressbar", "aria-valuenow": pct, "aria-valuemin": 0,
    "aria-valuemax": 100, title: `${done} of ${total} tasks done` },
  h("div", { class: "caw-progress-bar", style: `width:${pct}%` }),
  h("span", { class: "caw-progress-text" }, `${done}/${total}`));
}

/** A refusal as the person should read it: the code, the message. */
export function errorNote(error) {
  return h("div", { class: "caw-error", role: "alert" }, h("b", {}, error.code || "ERROR"), " ", error.message);
}

/** Run ``load`` and show its error in ``el`` instead of throwing. */
export async function guarded(el, load) {
  try {
    return await load();
  } catch (error) {
    el.append(errorNote(error));
    return undefined;
  }
}

export function time(ms) {
  return ms ? new Date(ms).toLocaleString() : "";
}

/** ``fn`` at most once per ``ms``, the last call always run. */
export function throttle(fn, ms) {
  let timer = null;
  let again = false;
  return () => {
    if (timer) {
      again = true;
      return;
    }
    fn();
    timer = setTimeout(function tick() {
      timer = null;
      if (again) {
        again = false;
        fn();
        timer = setTimeout(tick, ms);
      }
    }, ms);
  };
}
