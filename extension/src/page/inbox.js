// The inbox: messages grouped into threads, a compose form, reply and mark read. Messages
// are addressed agent to agent; the person picks which agent's threads to read, and a reply
// goes from the one who was asked to the one who asked.
import { fill, h } from "../dom.js";
import { errorNote, guarded, throttle, time } from "./ui.js";

/** The newest messages the inbox reads (the API's page size allows up to 1,000). */
const MESSAGES = 500;

export function inboxScreen(ctx, el) {
  const who = h("select", { class: "caw-input", "aria-label": "Inbox of" });
  const threads = h("div", { class: "caw-threads", dataset: { list: "threads" } });
  const notice = h("div");
  const compose = composeForm(ctx, who, notice, () => load());
  let names = new Map();
  const nameOf = (id) => names.get(id) || id;
  fill(el, h("div", { class: "caw-title-row" }, h("h1", {}, "Inbox"), h("label", {}, "Inbox of ", who)),
    notice, compose, threads);

  const loadAgents = async () => {
    const data = await guarded(notice, () => ctx.api.get("/api/agents"));
    const agents = data ? (Array.isArray(data) ? data : data.agents || []) : [];
    names = new Map(agents.map((a) => [a.id, a.name]));
    const keep = who.value || localStorage.getItem("caw-inbox") || "";
    fill(who, h("option", { value: "" }, "all agents"), agents.map((a) => h("option", { value: a.id }, a.name)));
    who.value = agents.some((a) => a.id === keep) ? keep : "";
    for (const select of compose.querySelectorAll("select[data-agents]")) {
      const value = select.value;
      fill(select, agents.map((a) => h("option", { value: a.id }, `${a.name} (${a.id})`)));
      if (value) select.value = value;
    }
  };

  /** Every thread the chosen agent is in, as sender or recipient, so its own replies show too. */
  const load = async () => {
    const data = await guarded(threads, () => ctx.api.get("/api/messages", { limit: MESSAGES }));
    if (!data) return;
    const messages = Array.isArray(data) ? data : data.messages || [];
    const byThread = new Map();
    for (const m of messages) {
      const key = m.thread_id || m.id;
      if (!byThread.has(key)) byThread.set(key, []);
      byThread.get(key).push(m);
    }
    const mine = [...byThread.values()].filter((list) =>
      !who.value || list.some((m) => m.sender_id === who.value || m.recipient_id === who.value));
    if (!mine.length) return fill(threads, h("p", { class: "caw-empty" }, "No messages."));
    fill(threads, mine.map((list) => thread(list)));
  };

  const thread = (list) => {
    list.sort((a, b) => (a.created_at || 0) - (b.created_at || 0));
    const first = list[0];
    const unread = list.filter((m) => m.status === "unread" && (!who.value || m.recipient_id === who.value));
    const markRead = h("button", { class: "caw-button", dataset: { action: "mark-read" }, disabled: !unread.length,
      onclick: async () => {
        try {
          await ctx.api.send("PUT", "/api/messages/mark-read", { message_ids: unread.map((m) => m.id) });
          load();
        } catch (error) {
          fill(notice, errorNote(error));
        }
      } }, unread.length ? `Mark ${unread.length} read` : "Read");
    const reply = h("form", { class: "caw-reply", onsubmit: async (event) => {
      event.preventDefault();
      const last = list[list.length - 1];
      const body = reply.querySelector("textarea").value.trim();
      if (!body) return;
      try {
        await ctx.api.send("POST", "/api/messages", { sender_id: last.recipient_id, recipient_id: last.sender_id,
          message_type: last.message_type || "response", body, subject: first.subject, reply_to_id: last.id,
          workflow_id: last.workflow_id || undefined });
        load();
      } catch (error) {
        fill(notice, errorNote(error));
      }
    } }, h("textarea", { class: "caw-input", rows: 2, placeholder: "Reply…", "aria-label": "Reply" }),
    h("button", { class: "caw-button caw-primary", type: "submit" }, "Reply"));
    return h("article", { class: "caw-thread", dataset: { thread: first.thread_id || first.id, unread: String(unread.length) } },
      h("div", { class: "caw-card-head" }, h("b", {}, first.subject || "(no subject)"), markRead),
      list.map((m) => h("div", { class: `caw-message${m.status === "unread" ? " caw-unread" : ""}`, dataset: { id: m.id } },
        h("div", { class: "caw-muted" },
          `${nameOf(m.sender_id)} → ${nameOf(m.recipient_id)} · ${m.message_type} · ${time(m.created_at)}`),
        h("div", { class: "caw-message-body" }, m.body))),
      reply);
  };

  who.addEventListener("change", () => {
    localStorage.setItem("caw-inbox", who.value);
    load();
  });
  const refresh = throttle(load, 500);
  const off = ctx.live.on("message:new", refresh);
  ctx.live.subscribe("global");
  loadAgents().then(load);
  return () => {
    off();
    ctx.live.unsubscribe("global");
  };
}

function composeForm(ctx, who, notice, sent) {
  const field = (label, input) => h("label", { class: "caw-field" }, h("span", {}, label), input);
  const from = h("select", { class: "caw-input", name: "sender_id", dataset: { agents: "" } });
  const to = h("select", { class: "caw-input", name: "recipient_id", dataset: { agents: "" } });
  const type = h("select", { class: "caw-input", name: "message_type" },
    ["query", "response", "status_update", "task_assignment", "error"].map((t) => h("option", { value: t }, t)));
  const subject = h("input", { class: "caw-input", name: "subject", maxlength: 200 });
  const body = h("textarea", { class: "caw-input", name: "body", rows: 3, required: true });
  const form = h("form", { class: "caw-compose", onsubmit: async (event) => {
    event.preventDefault();
    try {
      await ctx.api.send("POST", "/api/messages", { sender_id: from.value, recipient_id: to.value,
        message_type: type.value, subject: subject.value || undefined, body: body.value });
      body.value = "";
      fill(notice, h("div", { class: "caw-info" }, "Sent."));
      sent();
    } catch (error) {
      fill(notice, errorNote(error));
    }
  } }, h("details", {}, h("summary", {}, "Compose"),
    h("div", { class: "caw-form-grid" }, field("From", from), field("To", to), field("Type", type),
      field("Subject", subject), field("Message", body)),
    h("button", { class: "caw-button caw-primary", type: "submit" }, "Send")));
  return form;
}
