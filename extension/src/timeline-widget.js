// anywidget entry point of the timeline: wires one TimelineView to the widget model. The synced
// traits (bars, now, height, selected) are written down in caw_lab/lab/timeline_widget.py.
import { TimelineView } from "./timeline.js";

function render({ model, el }) {
  const view = new TimelineView(el, {
    height: model.get("height"),
    select(id) {
      if (model.get("selected") === id) return;
      model.set("selected", id);
      model.save_changes();
    },
  });
  view.load(model.get("bars"), model.get("now"));
  view.setSelected(model.get("selected"));
  const onBars = () => view.load(model.get("bars"), model.get("now"));
  const onSelected = () => view.setSelected(model.get("selected"));
  const onHeight = () => view.setHeight(model.get("height"));
  model.on("change:bars", onBars);
  model.on("change:selected", onSelected);
  model.on("change:height", onHeight);
  return () => {
    model.off("change:bars", onBars);
    model.off("change:selected", onSelected);
    model.off("change:height", onHeight);
    view.destroy();
  };
}

export default { render };
