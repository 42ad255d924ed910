// The page's two wires to the server: JSON over HTTP (``/api/...``, the reference's
// envelope ``{data}`` / ``{error: {code, message}}``) and the WebSocket ``/ws``. Every URL is
// relative to the page, so the same bundle works at ``/`` of ``caw --server`` and under
// Jupyter's ``/caw/`` proxy prefix.

export class ApiError extends Error {
  constructor(code, message, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

export class Api {
  constructor(base = document.baseURI) {
    this.base = base;
  }

  url(path, query = {}) {
    const url = new URL(path.replace(/^\//, ""), this.base);
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, String(value));
    }
    return url;
  }

  get(path, query) {
    return this.request("GET", path, undefined, query);
  }

  send(method, path, body) {
    return this.request(method, path, body);
  }

  /** The payload under ``data``; a refusal throws ``ApiError`` with the server's code. */
  async request(method, path, body, query) {
    const response = await fetch(this.url(path, query), {
      method,
      credentials: "same-origin",
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let payload = null;
    try {
      payload = text ? JSON.parse(text) : null;
    } catch {
      payload = null;
    }
    if (!response.ok) {
      const error = payload?.error || payload || {};
      throw new ApiError(error.code || `HTTP_${response.status}`, error.message || text || response.statusText,
        response.status);
    }
    return payload && typeof payload === "object" && "data" in payload ? payload.data : payload;
  }
}

/** The WebSocket: channels to follow, a handler per event type, and reconnection that
 * resumes each channel from the last event sequence number seen, so nothing is lost. */
export class Live {
  constructor(viewer, base = document.baseURI) {
    this.viewer = viewer;
    this.url = new URL("ws", base);
    this.url.protocol = this.url.protocol === "https:" ? "wss:" : "ws:";
    this.channels = new Set();
    this.handlers = new Map();
    this.lastSeq = 0;
    this.retry = 500;
    this.onState = () => {};
    this.connect();
  }

  connect() {
    this.socket = new WebSocket(this.url);
    this.socket.onopen = () => {
      this.retry = 500;
      this.onState("open");
      this.hello();
      for (const channel of this.channels) this.write("subscribe", channel, true);
    };
    this.socket.onmessage = (message) => this.receive(message.data);
    this.socket.onclose = () => {
      this.onState("closed");
      if (this.closed) return;
      setTimeout(() => this.connect(), this.retry);
      this.retry = Math.min(this.retry * 2, 8000);
    };
  }

  receive(text) {
    let event;
    try {
      event = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof event.seq === "number") this.lastSeq = Math.max(this.lastSeq, event.seq);
    for (const handler of this.handlers.get(event.type) || []) handler(event.data || {}, event);
    for (const handler of this.handlers.get("*") || []) handler(event.data || {}, event);
  }

  /** Tell the server the name other viewers see. */
  hello(name = this.viewer) {
    this.viewer = name;
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify({ type: "hello", name }));
  }

  write(type, channel, resume = false) {
    if (this.socket.readyState !== WebSocket.OPEN) return;
    const message = { type, channel };
    if (resume && this.lastSeq) message.since = this.lastSeq;
    this.socket.send(JSON.stringify(message));
  }

  subscribe(channel) {
    if (this.channels.has(channel)) return;
    this.channels.add(channel);
    this.write("subscribe", channel);
  }

  unsubscribe(channel) {
    if (!this.channels.delete(channel)) return;
    this.write("unsubscribe", channel);
  }

  /** ``handler(data, event)`` for every server event of ``type`` ("*" for all); returns an off switch. */
  on(type, handler) {
    if (!this.handlers.has(type)) this.handlers.set(type, new Set());
    this.handlers.get(type).add(handler);
    return () => this.handlers.get(type).delete(handler);
  }
}
