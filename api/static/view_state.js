// What the table shows, kept in the URL's fragment (#type=oidc&status=approved&...):
// a reload or a shared link opens the same view. The fragment never reaches the
// server, so searches stay out of its logs. An old link of the form #oidc still works.
export const PAGE_SIZES = [20, 50, 100];
export const SORTS = ["-created_at", "created_at", "name", "-name", "status", "-status"];
const DEFAULTS = { type: "", q: "", status: "", sort: "-created_at", size: 20, page: 1 };
const STATUSES = ["", "pending", "approved", "disapproved"];

export function readViewState() {
  const fragment = location.hash.slice(1);
  const params = new URLSearchParams(fragment.includes("=") ? fragment : `type=${fragment}`);
  const size = Number(params.get("size"));
  const page = Number(params.get("page"));
  const status = params.get("status") || "";
  const sort = params.get("sort") || DEFAULTS.sort;
  return {
    type: params.get("type") || "",
    q: (params.get("q") || "").slice(0, 200),
    status: STATUSES.includes(status) ? status : "",
    sort: SORTS.includes(sort) ? sort : DEFAULTS.sort,
    size: PAGE_SIZES.includes(size) ? size : DEFAULTS.size,
    page: Number.isInteger(page) && page > 1 ? page : 1,
  };
}

// Only what differs from the defaults, so a plain view keeps a short URL.
export function writeViewState(state) {
  const params = new URLSearchParams();
  for (const name of ["type", "q", "status", "sort", "size", "page"]) {
    if (state[name] !== DEFAULTS[name] || name === "type") params.set(name, String(state[name]));
  }
  const fragment = `#${params}`;
  if (location.hash !== fragment) history.replaceState(null, "", fragment);
}
