// anywidget entry point: wires one DagView to the widget model. The synced traits and the
// custom messages are the contract written down in caw_lab/lab/dag_state.py.
import { DagView } from "./dag-view.js";

function render({ model, el }) {
  const started = performance.now();
  const waiting = new Map();
  let nextRequest = 0;
  let resyncing = false;

  const kernel = {
    edit(action, args) {
      const request = ++nextRequest;
      model.send({ kind: "edit", request, action, args });
      return new Promise((resolve) => waiting.set(request, resolve));
    },
    describe(id) {
      model.send({ kind: "describe", id });
    },
    select(id) {
      if (model.get("selected") === id) return;
      model.set("selected", id);
      model.save_changes();
    },
  };

  const view = new DagView(el, kernel, {
    height: model.get("height"),
    transitions: model.get("transitions"),
    details: model.get("details") !== false,
    started,
  });
  view.load(model.get("workflow"), model.get("tasks"), model.get("edges"), model.get("rev"));
  view.select(model.get("selected"), true);
  if (model.get("reveal")) requestAnimationFrame(() => el.scrollIntoView({ block: "center", behavior: "instant" }));

  const onMessage = (msg) => {
    if (msg.kind === "delta") {
      if (resyncing || msg.rev <= view.rev) return;
      if (msg.rev !== view.rev + 1) {
        resyncing = true;
        model.send({ kind: "hello", rev: view.rev });
        return;
      }
      view.applyDelta(msg);
    } else if (msg.kind === "snapshot") {
      resyncing = false;
      view.load(msg.workflow, msg.tasks, msg.edges, msg.rev);
    } else if (msg.kind === "reply") {
      const resolve = waiting.get(msg.request);
      waiting.delete(msg.request);
      if (resolve) resolve(msg);
    } else if (msg.kind === "description") {
      view.describe(msg);
    }
  };
  const onSelected = () => view.select(model.get("selected"), true);
  const onWorkflow = () => view.setWorkflow(model.get("workflow"));
  const onHeight = () => view.setHeight(model.get("height"));
  model.on("msg:custom", onMessage);
  model.on("change:selected", onSelected);
  model.on("change:workflow", onWorkflow);
  model.on("change:height", onHeight);
  model.send({ kind: "hello", rev: model.get("rev") });

  return () => {
    model.send({ kind: "bye" });
    model.off("msg:custom", onMessage);
    model.off("change:selected", onSelected);
    model.off("change:workflow", onWorkflow);
    model.off("change:height", onHeight);
    view.destroy();
  };
}

export default { render };
