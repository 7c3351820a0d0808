// What an approver should see before approving: the redirect URIs (with the ASCII
// form of an internationalised host) and, for a client edited since it was last
// approved, what was edited, by whom and when.
import { h, formatTime } from "./dom.js";
import { editsSinceApproval, fieldsText, readHistory } from "./history.js";
import { uriList } from "./uris.js";

function changesSince(history) {
  const since = history && editsSinceApproval(history);
  if (!since || !since.edits.length) return [];
  const approved = since.approval;
  return [
    h("p", { class: "warning changed-since" },
      `Changed since it was last approved (${formatTime(approved.at)}${approved.actor ? ` by ${approved.actor}` : ""}):`),
    h("ul", { class: "changes" }, since.edits.map((entry) => h("li", {},
      `${fieldsText(entry.fields) || "edited"}: by ${entry.actor || "the service"}, `,
      h("time", { datetime: entry.at }, formatTime(entry.at))))),
  ];
}

export async function approvalDetails(api, client, info) {
  // Without the history the question is still asked; only the list of changes is missing.
  const history = await readHistory(api, client.key).catch(() => null);
  const uris = info.redirect_uris && client.redirect_uris.length
    ? [h("p", { class: "details-label" }, "Redirect URIs:"), uriList(client.redirect_uris)] : [];
  const unknown = history === null ? [h("p", { class: "note" }, "Its history could not be read.")] : [];
  return [...changesSince(history), ...unknown, ...uris];
}
