// The live feed: GET /v1/events read as Server-Sent Events.
//
// EventSource cannot send an Authorization header, and a token in the URL would
// end up in logs, so the stream is read with fetch. The parser below is the
// event-stream format's few rules (fields, blank line ends an event, ":" comments
// are keep-alives); a library for it would add a build step to a page that has none.

const RECONNECT_MIN_MS = 1000;
const RECONNECT_MAX_MS = 30000;
// An open stream is not asked for its token again: while it is open the feed asks
// GET /v1/me now and then, so a token that stops working does not stay "Live".
const TOKEN_CHECK_MS = 15000;

export class LiveFeed {
  // onEvent(type, data): "ready" after each (re)connect, "resync", or a client event.
  // onState("live" | "connecting" | "offline"); onUnauthorized(): the token was refused.
  constructor(token, { onEvent, onState, onUnauthorized }) {
    this.token = token;
    this.onEvent = onEvent;
    this.onState = onState;
    this.onUnauthorized = onUnauthorized;
    this.controller = null;
    this.stopped = false;
    this.delay = RECONNECT_MIN_MS;
  }

  start() {
    this.run();
    this.checker = setInterval(() => this.checkToken(), TOKEN_CHECK_MS);
  }

  stop() {
    this.stopped = true;
    clearInterval(this.checker);
    if (this.controller) this.controller.abort();
  }

  async checkToken() {
    try {
      const response = await fetch("/v1/me", {
        headers: { Authorization: `Bearer ${this.token}`, Accept: "application/json" }, cache: "no-store",
      });
      if (response.status === 401 && !this.stopped) {
        this.stop();
        this.onUnauthorized();
      }
    } catch {
      // Unreachable: the stream's own reconnects say so.
    }
  }

  async run() {
    while (!this.stopped) {
      this.onState("connecting");
      this.controller = new AbortController();
      try {
        const response = await fetch("/v1/events", {
          headers: { Authorization: `Bearer ${this.token}`, Accept: "text/event-stream" },
          signal: this.controller.signal, cache: "no-store",
        });
        if (response.status === 401) {
          this.stop();
          this.onUnauthorized();
          return;
        }
        if (response.ok) await this.read(response.body);
      } catch (error) {
        if (this.stopped) return;
      }
      if (this.stopped) return;
      this.onState("offline");
      await new Promise((resolve) => setTimeout(resolve, this.delay));
      this.delay = Math.min(this.delay * 2, RECONNECT_MAX_MS);
    }
  }

  async read(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let event = { type: "message", data: [] };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      const lines = buffer.split(/\r\n|\r|\n/);
      buffer = lines.pop();
      for (const line of lines) {
        if (line === "") {
          if (event.data.length) this.dispatch(event.type, event.data.join("\n"));
          event = { type: "message", data: [] };
        } else if (!line.startsWith(":")) {
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "event") event.type = text;
          else if (field === "data") event.data.push(text);
        }
      }
    }
  }

  dispatch(type, text) {
    if (type === "ready") {
      this.delay = RECONNECT_MIN_MS;
      this.onState("live");
    }
    let data = {};
    try { data = JSON.parse(text); } catch { /* a frame we do not know: ignored */ }
    this.onEvent(type, data);
  }
}
