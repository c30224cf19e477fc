// Small DOM helpers. Text always goes in as text nodes, never as HTML: file
// names and error messages come from users.

export const $ = (selector, root = document) => root.querySelector(selector);

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attributes)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// A table row whose cells also carry their column's name, so narrow screens
// can show each row as a labelled card (see console.css).
export function row(table, cells) {
  const headers = [...table.tHead.rows[0].cells].map((th) => th.textContent);
  return el("tr", {}, cells.map((cell, i) => el("td", { "data-label": headers[i] || "" }, cell)));
}

export function fill(table, rows, empty) {
  table.tBodies[0].replaceChildren(...rows);
  if (empty) empty.hidden = rows.length > 0;
}

let noticeTimer = null;

export function notify(message, kind = "info") {
  const notice = $("#notice");
  notice.textContent = message;
  notice.dataset.kind = kind;
  notice.hidden = false;
  clearTimeout(noticeTimer);
  if (kind !== "error") noticeTimer = setTimeout(() => { notice.hidden = true; }, 6000);
}

export function reportError(e) {
  notify(e && e.message ? e.message : String(e), "error");
}
