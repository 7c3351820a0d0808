// The client keys data table of one tab: search, status filter, sort, pages of
// 20, 50 or 100, all kept in the URL (view_state.js). Everything comes from
// GET /v1/clients; paging follows its cursors.
import { expiryBadge } from "./expiry.js";
import { originBadge } from "./origin.js";
import { $, h, formatDate, formatTime } from "./dom.js";
import { describe } from "./api.js";
import { Latest } from "./latest.js";
import { keyLine } from "./copy.js";
import { STATUS_TEXT } from "./detail.js";
import { rowMenu } from "./menu.js";
import { notify } from "./notice.js";
import { readViewState, writeViewState } from "./view_state.js";
import { uriList } from "./uris.js";

const SORTABLE = { name: "name", status: "status", created: "created_at" };

// A row menu is open: replacing the rows now would make it vanish under the pointer or keys.
const menuOpen = () => Boolean(document.querySelector("#table-body .menu:not([hidden])"));

// Every read of the table goes through one Latest (latest.js): sort, filter, search, page
// size, tab, a page turn and a live refresh each supersede what was still on its way, so
// the rows shown are always those of the controls as they are now. While an answer is
// awaited the panel is aria-busy (data-state="loading"), and "ready" once the newest one
// is shown: a screen reader, or a test, knows when the table has settled.
export class ClientTable {
  // actions(client) -> [{ label, run }] for the row menu, or null when read-only;
  // onOpen(client): open the client's detail view.
  constructor({ api, actions, onOpen }) {
    this.api = api;
    this.actions = actions;
    this.onOpen = onOpen;
    this.info = null;
    const saved = readViewState();
    this.sort = saved.sort;
    this.size = saved.size;
    this.restorePage = saved.page;  // the page a link or reload asked for, reached once
    $("search").value = saved.q;
    $("status-filter").value = saved.status;
    $("page-size").value = String(saved.size);
    this.cursors = [null];  // the cursor of each page visited; the last one is shown
    this.nextCursor = null;
    this.latest = new Latest();
    this.reading = false;  // a request of the newest ticket is on its way
    this.timer = null;  // the search box's pause before it reads
    this.refreshTimer = null;
    this.highlight = new Set();
    $("search").addEventListener("input", () => this.debounced());
    $("status-filter").addEventListener("change", () => this.reload());
    $("page-size").addEventListener("change", () => {
      this.size = Number($("page-size").value);
      this.reload();
    });
    $("filters").addEventListener("submit", (event) => event.preventDefault());
    $("previous-page").addEventListener("click", () => this.turn(-1));
    $("next-page").addEventListener("click", () => this.turn(1));
    this.showState();
  }

  show(info) {
    const changed = this.info && this.info.type !== info.type;
    this.info = info;
    if (changed) this.restorePage = 1;
    return this.reload();
  }

  // What the page shows no longer matches the controls: drop any answer on its way, and no
  // paging until the new rows are in (the next page's cursor belongs to the old ones).
  changing() {
    this.latest.cancel();
    this.reading = false;
    this.nextCursor = null;
    $("previous-page").disabled = true;
    $("next-page").disabled = true;
  }

  debounced() {
    this.changing();
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.reload();
    }, 250);
    this.showState();
  }

  // A new view (tab, sort, filter, search, page size): from its first page, or the page a
  // link asked for.
  async reload() {
    this.changing();
    clearTimeout(this.timer);
    this.timer = null;
    const ticket = this.begin();
    this.cursors = [null];
    const wanted = this.restorePage;
    this.restorePage = 1;
    // A page asked for by the URL: follow the cursors to it (cursors, not offsets).
    for (let page = 1; page < wanted; page += 1) {
      const found = await this.api.request("GET", `/v1/clients?${this.query()}`, { signal: ticket.signal })
        .catch(() => null);
      if (!ticket.current()) return;
      if (!found || !found.next_cursor) break;
      this.cursors.push(found.next_cursor);
    }
    await this.load(ticket);
  }

  // Read the current page again (a live change): the same cursor, the same filters.
  refresh(changedKey) {
    if (changedKey) this.highlight.add(changedKey);
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      // Not under an open row menu: it would vanish under the administrator's keys. Not
      // while another read is on its way either: it may be a new view still following
      // its cursors; its answer may predate the change, so read again once it is shown.
      if (menuOpen() || this.reading || this.timer) this.refresh();
      else this.load();
    }, 100);
    this.showState();
  }

  turn(step) {
    if (step > 0 && !this.nextCursor) return;  // a new view is still on its way
    if (step < 0 && this.cursors.length <= 1) return;
    if (step > 0) this.cursors.push(this.nextCursor);
    else this.cursors.pop();
    this.changing();
    const ticket = this.begin();
    this.load(ticket).then(() => {
      if (ticket.current()) $("panel").focus();
    });
  }

  query() {
    const params = new URLSearchParams({ type: this.info.type, sort: this.sort, limit: this.size });
    const q = $("search").value.trim();
    if (q) params.set("q", q);
    if ($("status-filter").value) params.set("status", $("status-filter").value);
    const cursor = this.cursors[this.cursors.length - 1];
    if (cursor) params.set("cursor", cursor);
    return params;
  }

  begin() {
    const ticket = this.latest.begin();
    this.reading = true;
    this.showState();
    return ticket;
  }

  async load(ticket = this.begin()) {
    try {
      const page = await this.api.request("GET", `/v1/clients?${this.query()}`, { signal: ticket.signal });
      if (!ticket.current()) return;
      if (page.items.length === 0 && this.cursors.length > 1) {
        this.cursors.pop();  // the last rows of this page went away: show the one before
        await this.load(ticket);
        return;
      }
      // A menu opened while the page was being read: show the rows once it closes.
      if (menuOpen()) this.refresh();
      else this.render(page);
    } catch (error) {
      if (!ticket.current()) return;  // aborted, or failed after a newer read began
      $("table-message").textContent = describe(error);
      notify(describe(error), "error");
      this.showPager();
    } finally {
      if (ticket.current()) {
        this.reading = false;
        this.showState();
      }
    }
  }

  // aria-busy while anything the table will show is still to come.
  showState() {
    const busy = Boolean(this.reading || this.timer || this.refreshTimer);
    $("panel").setAttribute("aria-busy", busy ? "true" : "false");
    $("panel").dataset.state = busy ? "loading" : "ready";
  }

  showPager() {
    $("previous-page").disabled = this.cursors.length <= 1;
    $("next-page").disabled = !this.nextCursor;
  }

  columns() {
    const oauth2 = this.info.redirect_uris;
    return [
      { id: "key", title: this.info.key_label },
      { id: "name", title: "Name" },
      { id: "status", title: "Status" },
      { id: "created", title: "Created" },
      oauth2 && { id: "redirects", title: "Redirect URIs" },
      oauth2 && { id: "grants", title: "Grant types" },
      oauth2 && { id: "responses", title: "Response types" },
      this.actions && { id: "actions", title: "Actions" },
    ].filter(Boolean);
  }

  header() {
    return this.columns().map((column) => {
      const field = SORTABLE[column.id];
      const attributes = { scope: "col", class: `col-${column.id}` };
      if (!field) return h("th", attributes, column.id === "actions" ? h("span", { class: "visually-hidden" }, column.title) : column.title);
      const direction = this.sort === field ? "ascending" : this.sort === `-${field}` ? "descending" : null;
      const arrow = direction === "ascending" ? " ▲" : direction === "descending" ? " ▼" : "";
      return h("th", { ...attributes, "aria-sort": direction || "none" },
        h("button", {
          type: "button", class: "sort", "data-sort": field,
          onclick: () => {
            this.sort = this.sort === field ? `-${field}` : field;
            this.refocus = `th [data-sort="${field}"]`;
            this.reload();
          },
        }, column.title, h("span", { "aria-hidden": "true" }, arrow)));
    });
  }

  cell(column, client) {
    // Explicit roles: a narrow screen lays rows out as cards, and CSS display
    // would otherwise take the table semantics away from screen readers.
    const label = { "data-label": column.title, role: "cell", class: `col-${column.id}` };
    const types = (values) => h("td", label, values.length
      ? h("ul", { class: "plain" }, values.map((value) => h("li", {}, value))) : "—");
    switch (column.id) {
      case "key": return h("td", label, keyLine(client));
      case "name": return h("th", { scope: "row", ...label, role: "rowheader" },
        h("button", { type: "button", class: "open", onclick: () => this.onOpen(client) }, client.name));
      case "status": return h("td", label, h("span", { class: `status status-${client.status}` }, STATUS_TEXT[client.status]),
        expiryBadge(client), originBadge(client));
      case "created": return h("td", label, h("time", { datetime: client.created_at, title: formatTime(client.created_at) }, formatDate(client.created_at)));
      case "redirects": return h("td", label, client.redirect_uris.length ? uriList(client.redirect_uris) : "—");
      case "grants": return types(client.grant_types);
      case "responses": return types(client.response_types);
      default: return h("td", { class: "actions", role: "cell" }, rowMenu(`Actions for ${client.name}`, this.actions(client)));
    }
  }

  render(page) {
    // A re-render must not drop the keyboard focus: find its place in the new rows.
    const focused = document.activeElement;
    const focusedRow = focused && focused.closest && focused.closest("tr[data-key]");
    if (focusedRow && (focused.classList.contains("menu-button") || focused.classList.contains("open"))) {
      const which = focused.classList.contains("open") ? ".open" : ".menu-button";
      this.refocus = `tr[data-key="${CSS.escape(focusedRow.dataset.key)}"] ${which}`;
    }
    const columns = this.columns();
    $("table").dataset.columns = columns.map((column) => column.id).join(" ");
    $("table-head").replaceChildren(...this.header());
    $("table-caption").textContent = `${this.info.label} clients`;
    const rows = page.items.map((client) => {
      const row = h("tr", { class: `row-${client.status}`, "data-key": client.key, role: "row" },
        columns.map((column) => this.cell(column, client)));
      if (this.highlight.has(client.key)) row.classList.add("changed");
      return row;
    });
    this.highlight.clear();
    $("table-body").replaceChildren(...rows);
    const filtered = $("search").value.trim() || $("status-filter").value;
    const empty = !page.total && !filtered;
    $("table").hidden = !page.total;
    $("empty-state").hidden = !empty;
    $("empty-text").textContent = `There are no ${this.info.label} clients yet.`;
    // One Create button at a time: the empty table's prompt, or the one under the table.
    $("empty-create").hidden = !this.actions;
    $("create").hidden = !this.actions || empty;
    $("table-message").textContent = page.total || empty ? "" : "No client matches the search.";
    const first = (this.cursors.length - 1) * this.size;
    $("page-range").textContent = page.total
      ? `${first + 1}–${first + page.items.length} of ${page.total}` : "";
    this.nextCursor = page.next_cursor;
    this.showPager();
    writeViewState({
      type: this.info.type, q: $("search").value.trim(), status: $("status-filter").value,
      sort: this.sort, size: this.size, page: this.cursors.length,
    });
    if (this.refocus) {
      const target = document.querySelector(this.refocus);
      this.refocus = null;
      if (target) target.focus();
    }
  }

  // Focus a control of a client's row, or the table when the row is gone.
  focusRow(key, control = ".menu-button") {
    const target = document.querySelector(`tr[data-key="${CSS.escape(key)}"] ${control}`);
    (target || $("panel")).focus();
  }
}
