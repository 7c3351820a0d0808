// The row menu: a button that opens a list of actions (WAI-ARIA menu button pattern).
// Enter, Space or ArrowDown opens it on the first item; arrows, Home and End move;
// Escape or Tab closes it and focus goes back to the button.
// The list is positioned against the window (position: fixed), below its button or,
// when the window has no room there, above it: no scroll area, pager or the
// window's edge can hide an item, whichever row the menu belongs to.
import { h } from "./dom.js";

const GAP_PX = 4;
let openMenu = null;

function place(menu) {
  const { button, list } = menu;
  const anchor = button.getBoundingClientRect();
  const height = list.offsetHeight;
  const below = window.innerHeight - anchor.bottom - GAP_PX;
  const upwards = height > below && anchor.top - GAP_PX >= height;
  list.dataset.placement = upwards ? "above" : "below";
  list.style.top = `${upwards ? anchor.top - GAP_PX - height : anchor.bottom + GAP_PX}px`;
  list.style.right = `${Math.max(GAP_PX, document.documentElement.clientWidth - anchor.right)}px`;
}

function close(menu, refocus) {
  menu.list.hidden = true;
  menu.button.setAttribute("aria-expanded", "false");
  if (refocus) menu.button.focus();
  if (openMenu === menu) openMenu = null;
}

document.addEventListener("click", (event) => {
  if (openMenu && !openMenu.root.contains(event.target)) close(openMenu, false);
});
// The list follows its button when the page scrolls or the window changes size.
const follow = () => { if (openMenu) place(openMenu); };
window.addEventListener("scroll", follow, { passive: true, capture: true });
window.addEventListener("resize", follow);

// actions: [{ label, run }]; label names the row for screen readers.
export function rowMenu(label, actions) {
  const button = h("button", {
    type: "button", class: "menu-button", "aria-haspopup": "menu", "aria-expanded": "false",
    "aria-label": label,
  }, "⋮");
  const items = actions.map((action) => h("li", { role: "none" },
    h("button", { type: "button", role: "menuitem", tabindex: "-1", class: action.danger ? "danger" : "" },
      action.label)));
  const list = h("ul", { role: "menu", "aria-label": label, class: "menu", hidden: true }, items);
  const root = h("div", { class: "row-menu" }, button, list);
  const menu = { root, button, list };
  const buttons = items.map((item) => item.firstChild);

  const open = (index) => {
    if (openMenu && openMenu !== menu) close(openMenu, false);
    list.hidden = false;
    place(menu);
    button.setAttribute("aria-expanded", "true");
    openMenu = menu;
    buttons[(index + buttons.length) % buttons.length].focus();
  };
  button.addEventListener("click", () => (list.hidden ? open(0) : close(menu, true)));
  button.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      open(0);
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      open(buttons.length - 1);
    }
  });
  buttons.forEach((item, index) => {
    item.addEventListener("click", () => {
      close(menu, true);
      actions[index].run(button);
    });
    item.addEventListener("keydown", (event) => {
      const moves = { ArrowDown: index + 1, ArrowUp: index - 1, Home: 0, End: buttons.length - 1 };
      if (event.key in moves) {
        event.preventDefault();
        buttons[(moves[event.key] + buttons.length) % buttons.length].focus();
      } else if (event.key === "Escape") {
        event.preventDefault();
        close(menu, true);
      } else if (event.key === "Tab") {
        close(menu, false);
      }
    });
  });
  return root;
}
