// The dashboard page's entry point: the header, the router (hash routes, so the page works
// under any path prefix, Jupyter's proxy included) and one live connection shared by every
// screen. Each screen is a function ``(ctx, el, ...params) => cleanup``.
import { h, fill } from "../dom.js";
import { Api, Live } from "./api.js";
import { agentsScreen } from "./agents.js";
import { editorScreen } from "./editor.js";
import { inboxScreen } from "./inbox.js";
import { workflowScreen } from "./workflow.js";
import { workflowsScreen } from "./workflows.js";

const ROUTES = [
  [/^#?\/?$/, workflowsScreen],
  [/^#\/new$/, (ctx, el) => editorScreen(ctx, el, null)],
  [/^#\/workflows\/([\w-]+)\/edit$/, editorScreen],
  [/^#\/workflows\/([\w-]+)(?:\/tasks\/([\w-]+))?$/, workflowScreen],
  [/^#\/agents$/, agentsScreen],
  [/^#\/inbox$/, inboxScreen],
];

/** This browser's name in viewers lists: kept per browser, changeable in the header. */
function viewerName() {
  const stored = localStorage.getItem("caw-viewer");
  if (stored) return stored;
  const name = `viewer-${Math.random().toString(36).slice(2, 6)}`;
  localStorage.setItem("caw-viewer", name);
  return name;
}

function start(root) {
  const config = JSON.parse(document.getElementById("caw-config")?.textContent || "{}");
  const api = new Api();
  const live = new Live(viewerName());
  const connection = h("span", { class: "caw-live", dataset: { state: "connecting" }, title: "Live updates" });
  live.onState = (state) => {
    connection.dataset.state = state;
    connection.textContent = state === "open" ? "live" : "offline";
  };
  const link = (href, text) => h("a", { href, class: "caw-nav-link" }, text);
  const nameInput = h("input", { class: "caw-viewer-name", value: live.viewer, "aria-label": "Your name",
    title: "Your name in viewers lists", onchange: (event) => {
      const name = event.target.value.trim();
      if (!name) return;
      localStorage.setItem("caw-viewer", name);
      live.hello(name);
    } });
  const header = h("header", { class: "caw-header" },
    h("a", { href: "#/", class: "caw-brand" }, "caw"),
    h("nav", { class: "caw-nav" }, link("#/", "Workflows"), link("#/agents", "Agents"), link("#/inbox", "Inbox"),
      link("#/new", "New workflow")),
    h("span", { class: "caw-spacer" }), nameInput, connection);
  const main = h("main", { class: "caw-main" });
  fill(root, header, main);
  const ctx = { api, live, config, go: (hash) => { location.hash = hash; } };

  let cleanup = null;
  let current = "";
  const route = () => {
    const hash = location.hash || "#/";
    if (hash === current) return;
    const [, , prevId] = current.match(/^#\/workflows\/([\w-]+)/) || [];
    const [, sameId] = hash.match(/^#\/workflows\/([\w-]+)(?:\/tasks\/[\w-]+)?$/) || [];
    current = hash;
    for (const a of header.querySelectorAll(".caw-nav-link")) a.classList.toggle("caw-active", a.getAttribute("href") === hash);
    // Within one workflow, selecting a task only moves the selection: the DAG stays.
    if (cleanup?.retarget && sameId && sameId === prevId && !hash.endsWith("/edit")) return cleanup.retarget(hash);
    if (cleanup) cleanup();
    fill(main);
    for (const [pattern, screen] of ROUTES) {
      const match = hash.match(pattern);
      if (match) {
        cleanup = screen(ctx, main, ...match.slice(1)) || null;
        return;
      }
    }
    cleanup = null;
    fill(main, h("p", { class: "caw-empty" }, "No such page. ", h("a", { href: "#/" }, "All workflows")));
  };
  window.addEventListener("hashchange", route);
  route();
}

start(document.getElementById("caw-app"));
