"""The page as the agent reads it: an accessibility tree in text, with a stable id on every interactive node.

Like BrowserGym's `bid`s, ids are written into the DOM (attribute `data-prm-id`) the first time a node is seen
and kept while the node lives, so `[12]` names the same button in every later observation; a node cloned with
its attribute gets a fresh id. One script walks the document in a single `evaluate` (no CDP accessibility
round trips): each visible node becomes a line `[id] role 'name' state...`, indented by depth; nodes with
no role, no text and no id are skipped; text that belongs to no named node appears as `StaticText`.

Roles follow the WAI-ARIA implicit roles of HTML (an explicit `role=` wins); the name is `aria-label`,
`aria-labelledby`, a `<label>`, `alt`, `title`, `placeholder`, or the text of name-from-content roles (and
of `generic`: an element with text of its own but no role, e.g. a clickable `<span>`, which also gets an id).

    [3] heading 'Book a flight'
    [4] textbox 'From' value='SFO' focused
    [5] checkbox 'Direct only' checked
    [6] button 'Search'
"""

from __future__ import annotations

from dataclasses import dataclass

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

ID_ATTRIBUTE = "data-prm-id"

WALK_JS = r"""
(maxChars) => {
  const IMPLICIT = {A: "link", BUTTON: "button", SELECT: "combobox", TEXTAREA: "textbox", OPTION: "option",
    H1: "heading", H2: "heading", H3: "heading", H4: "heading", H5: "heading", H6: "heading", UL: "list",
    OL: "list", LI: "listitem", TABLE: "table", TR: "row", TD: "cell", TH: "columnheader", FORM: "form",
    NAV: "navigation", MAIN: "main", IMG: "img", DIALOG: "dialog", LABEL: "label", SUMMARY: "button",
    P: "paragraph", CANVAS: "canvas", SVG: "svg"};
  const INPUT_ROLES = {checkbox: "checkbox", radio: "radio", button: "button", submit: "button",
    reset: "button", range: "slider", image: "button"};
  const FROM_CONTENT = new Set(["button", "link", "option", "heading", "tab", "menuitem", "treeitem", "cell",
    "columnheader", "label", "paragraph", "listitem", "status", "alert"]);
  const INTERACTIVE = new Set(["button", "link", "combobox", "textbox", "option", "checkbox", "radio",
    "slider", "tab", "menuitem", "treeitem", "switch", "searchbox", "spinbutton", "listbox", "canvas"]);
  const SKIP = new Set(["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE", "HEAD", "META", "LINK"]);
  const clip = (text, n) => { text = text.replace(/\s+/g, " ").trim(); return text.length > n ? text.slice(0, n) + "..." : text; };
  const quote = (text) => "'" + text.replace(/'/g, "\\'") + "'";
  window.__prmNextId = window.__prmNextId || 1;
  const seen = new Set();
  const lines = [];
  let total = 0;
  const roleOf = (el) => {
    const explicit = el.getAttribute("role");
    if (explicit) return explicit.split(" ")[0];
    if (el.tagName === "INPUT") return INPUT_ROLES[(el.type || "text").toLowerCase()] || "textbox";
    if (el.tagName === "A" && !el.hasAttribute("href")) return null;
    return IMPLICIT[el.tagName] || null;
  };
  const directText = (el) => Array.from(el.childNodes).filter(n => n.nodeType === 3).map(n => n.textContent).join(" ").replace(/\s+/g, " ").trim();
  const nameOf = (el, role) => {
    const label = el.getAttribute("aria-label");
    if (label) return label;
    const by = el.getAttribute("aria-labelledby");
    if (by) return by.split(/\s+/).map(id => document.getElementById(id)?.textContent || "").join(" ");
    if (el.labels && el.labels.length) return Array.from(el.labels).map(l => l.textContent).join(" ");
    const alt = el.getAttribute("alt") || el.getAttribute("title") || el.getAttribute("placeholder");
    if (alt) return alt;
    if (el.tagName === "INPUT" && ["button", "submit", "reset"].includes(el.type)) return el.value;
    if (FROM_CONTENT.has(role) || role === "generic") return el.textContent;
    return directText(el);
  };
  const visible = (el) => {
    if (el.tagName === "OPTION") return true;
    if (el.getAttribute("aria-hidden") === "true" || (el.tagName === "INPUT" && el.type === "hidden")) return false;
    return el.checkVisibility ? el.checkVisibility({visibilityProperty: true}) : true;
  };
  const walk = (el, depth) => {
    if (total > maxChars || SKIP.has(el.tagName) || !visible(el)) return;
    let role = roleOf(el);
    const text = directText(el);
    if (!role && text) role = "generic";
    const clickable = el.hasAttribute("onclick") || el.hasAttribute("tabindex") || el.isContentEditable;
    const interactive = INTERACTIVE.has(role) || clickable || role === "generic";
    let line = null;
    if (role || interactive) {
      let id = el.getAttribute("data-prm-id");
      if (interactive && (!id || seen.has(id))) { id = String(window.__prmNextId++); el.setAttribute("data-prm-id", id); }
      if (id) seen.add(id);
      const name = clip(nameOf(el, role || "generic"), 200);
      const states = [];
      if ((role === "textbox" || role === "searchbox" || role === "slider" || role === "spinbutton") && el.value !== undefined) states.push("value=" + quote(clip(String(el.value), 200)));
      if (role === "combobox" && el.tagName === "SELECT") states.push("value=" + quote(el.selectedOptions[0]?.textContent.trim() || ""));
      if (el.checked) states.push("checked");
      if (el.tagName === "OPTION" && el.selected) states.push("selected");
      if (el.disabled) states.push("disabled");
      const expanded = el.getAttribute("aria-expanded"); if (expanded) states.push("expanded=" + expanded);
      const selected = el.getAttribute("aria-selected"); if (selected === "true") states.push("selected");
      if (el === document.activeElement && el !== document.body) states.push("focused");
      if (role !== "generic" || name || id) {
        line = "  ".repeat(depth) + (id && interactive ? "[" + id + "] " : "") + (role || "generic") + (name ? " " + quote(name) : "") + (states.length ? " " + states.join(" ") : "");
        lines.push(line); total += line.length;
      }
    }
    const nameFromContent = line && FROM_CONTENT.has(role);
    const childDepth = line ? depth + 1 : depth;
    for (const child of el.childNodes) {
      if (child.nodeType === 1) walk(child, childDepth);
      else if (child.nodeType === 3 && !nameFromContent && role !== "generic") {
        const t = clip(child.textContent, 200);
        if (t) { const l = "  ".repeat(childDepth) + "StaticText " + quote(t); lines.push(l); total += l.length; }
      }
    }
  };
  if (document.body) walk(document.body, 0);
  return {tree: lines.join("\n"), title: document.title, url: location.href};
}
"""


@dataclass(frozen=True)
class PageView:
    tree: str
    title: str
    url: str


async def read_page(page: Page, max_chars: int = 20_000) -> PageView:
    """The accessibility-tree text of `page` (ids assigned as a side effect), with its title and URL."""
    try:
        data = await page.evaluate(WALK_JS, max_chars)
    except PlaywrightError as err:  # the last action started a navigation: read the new document
        if "context was destroyed" not in str(err):
            raise
        await page.wait_for_load_state("load")
        data = await page.evaluate(WALK_JS, max_chars)
    tree = data["tree"]
    if len(tree) > max_chars:  # the walk stops soon after the limit; the cut is exact here
        tree = tree[:max_chars].rsplit("\n", 1)[0] + f"\n... (page text cut at {max_chars} characters)"
    return PageView(tree=tree, title=data["title"], url=data["url"])


def id_selector(element_id: int) -> str:
    """The CSS selector of the node with id `element_id` (an int: no selector text from the agent)."""
    return f'[{ID_ATTRIBUTE}="{int(element_id)}"]'
