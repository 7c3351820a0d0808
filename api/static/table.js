// The client keys data table of one tab: search, status filter, sort, pages of
// 20, 50 or 100, all kept in the URL (view_state.js). Everything comes from
// GET /v1/clients; paging follows its cursors.
import { expiryBadge } from "./expiry.js";
import { originBadge } from "./origin.js";
import { $, h, formatDate, formatTime } from "./dom.js";
import { describe } from "./api.js";
import { keyLine } from "./copy.js";
import { STATUS_TEXT } from "./detail.js";
import { rowMenu } from "./menu.js";
import { notify } from "./notice.js";
import { readViewState, writeViewState } from "./view_state.js";
import { uriList } from "./uris.js";

const SORTABLE = { name: "name", status: "status", created: "created_at" };

// A row menu is open: replacing the rows now would make it vanish under the pointer or keys.
const menuOpen = () => Boolean(document.querySelector("#table-body .menu:not([hidden])"));

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
    this.loading = null;
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
  }

  show(info) {
    const changed = this.info && this.info.type !== info.type;
    this.info = info;
    if (changed) this.restorePage = 1;
    return this.reload();
  }

  debounced() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.reload(), 250);
  }

  async reload() {
    this.cursors = [null];
    const wanted = this.restorePage;
    this.restorePage = 1;
    // A page asked for by the URL: follow the cursors to it (cursors, not offsets).
    for (let page = 1; page < wanted; page += 1) {
      const found = await this.api.request("GET", `/v1/clients?${this.query()}`).catch(() => null);
      if (!found || !found.next_cursor) break;
      this.cursors.push(found.next_cursor);
    }
    return this.load();
  }

  // Read the current page again (a live change): the same cursor, the same filters.
  refresh(changedKey) {
    if (changedKey) this.highlight.add(changedKey);
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => {
      // Not under an open row menu: it would vanish under the administrator's keys.
      if (menuOpen()) this.refresh();
      else this.load();
    }, 100);
  }

  turn(step) {
    if (step > 0 && this.nextCursor) this.cursors.push(this.nextCursor);
    if (step < 0 && this.cursors.length > 1) this.cursors.pop();
    this.load().then(() => $("panel").focus());
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

  async load() {
    if (this.loading) this.loading.abort();
    const controller = new AbortController();
    this.loading = controller;
    try {
      const page = await this.api.request("GET", `/v1/clients?${this.query()}`, { signal: controller.signal });
      if (page.items.length === 0 && this.cursors.length > 1) {
        this.cursors.pop();  // the last rows of this page went away: show the one before
        return this.load();
      }
      // A menu opened while the page was being read: show the rows once it closes.
      if (menuOpen()) this.refresh();
      else this.render(page);
    } catch (error) {
      if (error.name === "AbortError") return;
      $("table-message").textContent = describe(error);
      notify(describe(error), "error");
    } finally {
      if (this.loading === controller) this.loading = null;
    }
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
    $("previous-page").disabled = this.cursors.length <= 1;
    $("next-page").disabled = !page.next_cursor;
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
