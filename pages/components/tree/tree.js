// The trace tree: a virtualised, collapsible list of every node of a trace, drawn in the browser.
//
// Python sends the whole tree once per session (flat columns, in tree order: see core/explore.tree_rows);
// later runs send only its key, and the tree is kept here, in the page, until a newer one replaces it.
// A click on a row selects that node: its id goes back to Python as the trigger value "selected".
// Node labels are untrusted trace text: they are only ever set as textContent.

const ROW_HEIGHT = 28; // px; the font is 14 px, badges 12 px: nothing smaller
const OVERSCAN = 12; // rows drawn above and below the visible ones, so a fast scroll shows no gap
const CHILDREN_SHOWN = 100; // children listed before a "+N hidden" row that lists the rest in place
const OPEN_LEVELS = 2; // levels open when a tree is first shown (the root and its children)
const KEY_SELECT_DELAY_MS = 250; // arrow keys move at once; Python hears of the node once they rest

const memory = (globalThis.__trellisTrees ??= { trees: new Map(), views: new Map() });

function buildTree(payload) {
  const t = JSON.parse(payload);
  const n = t.ids.length;
  const parent = Int32Array.from(t.parent);
  const childCount = new Int32Array(n);
  for (let i = 1; i < n; i++) childCount[parent[i]]++;
  const firstChild = new Int32Array(n + 1); // children of i: kids[firstChild[i] .. firstChild[i + 1]]
  for (let i = 0; i < n; i++) firstChild[i + 1] = firstChild[i] + childCount[i];
  const kids = new Int32Array(Math.max(n - 1, 0));
  const filled = new Int32Array(n);
  for (let i = 1; i < n; i++) { const p = parent[i]; kids[firstChild[p] + filled[p]++] = i; } // tree order
  const size = new Int32Array(n).fill(1);
  for (let i = n - 1; i > 0; i--) size[parent[i]] += size[i];
  const index = new Map();
  for (let i = 0; i < n; i++) index.set(t.ids[i], i);
  return { ...t, n, parent, childCount, firstChild, kids, size, index };
}

function rememberTree(key, tree) {
  memory.trees.delete(key);
  memory.trees.set(key, tree);
  while (memory.trees.size > 2) memory.trees.delete(memory.trees.keys().next().value); // the oldest goes
}

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function createView(parentElement) {
  const host = parentElement.querySelector(".trellis-tree");
  host.replaceChildren();
  const bar = el("div", "bar");
  const expandAll = el("button", "", "Expand all");
  const collapseAll = el("button", "", "Collapse all");
  const summary = el("span", "summary");
  bar.append(expandAll, collapseAll, summary);
  const viewport = el("div", "viewport");
  viewport.tabIndex = 0;
  viewport.setAttribute("role", "tree");
  viewport.setAttribute("aria-label", "Trace tree");
  const spacer = el("div", "spacer");
  const rowsBox = el("div", "rows");
  spacer.append(rowsBox);
  viewport.append(spacer);
  host.append(bar, viewport);
  const v = { host, viewport, spacer, rowsBox, summary, tree: null, key: null, open: new Set(), shownChildren: new Map(),
              rows: [], selected: -1, matched: new Set(), fromPython: null, send: null, keyTimer: null, frame: 0 };
  expandAll.onclick = () => { // every node open, every child listed: the list is virtualised, so 100,000 rows are fine
    for (let i = 0; i < v.tree.n; i++) if (v.tree.childCount[i]) { v.open.add(i); v.shownChildren.set(i, v.tree.childCount[i]); }
    layout(v);
  };
  collapseAll.onclick = () => { v.open = new Set([0]); layout(v); scrollTo(v, v.selected >= 0 ? rowOf(v, v.selected) : 0); };
  viewport.onscroll = () => { if (!v.frame) v.frame = requestAnimationFrame(() => { v.frame = 0; draw(v); }); };
  viewport.onclick = (event) => onClick(v, event);
  viewport.onkeydown = (event) => onKey(v, event);
  return v;
}

// The visible rows, in order: a node index, or ~parent for the "+N hidden" row of a node's remaining children.
function layout(v) {
  const t = v.tree, rows = [], stack = [0];
  while (stack.length) {
    const i = stack.pop();
    rows.push(i);
    if (i < 0 || !v.open.has(i)) continue;
    const count = t.childCount[i], shown = Math.min(count, v.shownChildren.get(i) ?? CHILDREN_SHOWN);
    if (shown < count) stack.push(~i);
    for (let k = shown - 1; k >= 0; k--) stack.push(t.kids[t.firstChild[i] + k]);
  }
  v.rows = rows;
  v.rowIndex = null;
  v.spacer.style.height = `${rows.length * ROW_HEIGHT}px`;
  v.summary.textContent = `${rows.length.toLocaleString()} of ${t.n.toLocaleString()} nodes listed`;
  draw(v);
}

function rowOf(v, node) {
  if (!v.rowIndex) { v.rowIndex = new Map(); v.rows.forEach((r, at) => { if (r >= 0) v.rowIndex.set(r, at); }); }
  return v.rowIndex.get(node) ?? -1;
}

function draw(v) {
  const t = v.tree, top = v.viewport.scrollTop, height = v.viewport.clientHeight || 560;
  const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(v.rows.length, Math.ceil((top + height) / ROW_HEIGHT) + OVERSCAN);
  const drawn = [];
  for (let at = first; at < last; at++) {
    const r = v.rows[at];
    const row = el("div", "row");
    row.style.top = `${at * ROW_HEIGHT}px`;
    if (r < 0) {
      const p = ~r, hidden = t.childCount[p] - (v.shownChildren.get(p) ?? CHILDREN_SHOWN);
      row.classList.add("more");
      row.style.paddingLeft = `${(t.depth[p] + 1) * 18 + 8}px`;
      row.dataset.moreOf = String(p);
      row.append(el("span", "hidden", `+${hidden.toLocaleString()} hidden: show them`));
      drawn.push(row);
      continue;
    }
    row.setAttribute("role", "treeitem");
    row.setAttribute("aria-level", String(t.depth[r] + 1));
    row.setAttribute("aria-selected", String(r === v.selected));
    row.dataset.nodeId = t.ids[r];
    row.dataset.index = String(r);
    row.style.paddingLeft = `${t.depth[r] * 18 + 4}px`;
    if (r === v.selected) row.classList.add("selected");
    if (v.matched.has(r)) row.classList.add("match");
    const hasKids = t.childCount[r] > 0, open = hasKids && v.open.has(r);
    if (hasKids) row.setAttribute("aria-expanded", String(open));
    const toggle = el("span", "toggle", hasKids ? (open ? "▾" : "▸") : "");
    if (hasKids) toggle.title = open ? "Collapse" : "Expand";
    const kind = el("span", `kind kind-${t.kinds[t.kind[r]]}`, t.kinds[t.kind[r]]);
    const label = el("span", "label", t.label[r]);
    row.append(toggle, kind, label);
    if (t.status[r]) { row.classList.add("error"); row.append(el("span", "badge error-badge", "error")); }
    if (hasKids && !open) row.append(el("span", "badge hidden", `+${(t.size[r] - 1).toLocaleString()} hidden`));
    drawn.push(row);
  }
  v.rowsBox.replaceChildren(...drawn);
}

function scrollTo(v, at) {
  if (at < 0) return;
  const top = at * ROW_HEIGHT, height = v.viewport.clientHeight || 560;
  if (top < v.viewport.scrollTop) v.viewport.scrollTop = top;
  else if (top + ROW_HEIGHT > v.viewport.scrollTop + height) v.viewport.scrollTop = top - height / 3;
  draw(v);
}

function reveal(v, node) {
  for (let p = v.tree.parent[node]; p >= 0; p = v.tree.parent[p]) v.open.add(p);
  // A node beyond the first CHILDREN_SHOWN of its parent is listed with all its siblings.
  for (let c = node, p = v.tree.parent[c]; p >= 0; c = p, p = v.tree.parent[p]) {
    const at = Array.prototype.indexOf.call(v.tree.kids.subarray(v.tree.firstChild[p], v.tree.firstChild[p + 1]), c);
    if (at >= (v.shownChildren.get(p) ?? CHILDREN_SHOWN)) v.shownChildren.set(p, v.tree.childCount[p]);
  }
}

function toggle(v, node, open) {
  if (!v.tree.childCount[node]) return;
  if (open) v.open.add(node); else v.open.delete(node);
  layout(v);
}

function select(v, node, { later = false } = {}) {
  v.selected = node;
  scrollTo(v, rowOf(v, node));
  clearTimeout(v.keyTimer);
  const tell = () => v.send("selected", v.tree.ids[node]);
  if (later) v.keyTimer = setTimeout(tell, KEY_SELECT_DELAY_MS); else tell();
}

function onClick(v, event) {
  const row = event.target.closest(".row");
  if (!row) return;
  if (row.dataset.moreOf !== undefined) {
    const p = Number(row.dataset.moreOf);
    v.shownChildren.set(p, v.tree.childCount[p]);
    layout(v);
    return;
  }
  const node = Number(row.dataset.index);
  if (event.target.classList.contains("toggle") || event.target.classList.contains("hidden")) {
    toggle(v, node, !v.open.has(node));
    return;
  }
  v.viewport.focus({ preventScroll: true });
  select(v, node);
}

function onKey(v, event) {
  const t = v.tree, node = v.selected >= 0 ? v.selected : 0, at = rowOf(v, node);
  let next = -1;
  if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    const step = event.key === "ArrowDown" ? 1 : -1;
    for (let k = at + step; k >= 0 && k < v.rows.length; k += step) if (v.rows[k] >= 0) { next = v.rows[k]; break; }
  } else if (event.key === "ArrowRight") {
    if (t.childCount[node] && !v.open.has(node)) toggle(v, node, true);
    else if (t.childCount[node]) next = t.kids[t.firstChild[node]];
  } else if (event.key === "ArrowLeft") {
    if (v.open.has(node) && t.childCount[node]) toggle(v, node, false);
    else if (t.parent[node] >= 0) next = t.parent[node];
  } else if (event.key === "Home") next = 0;
  else return;
  event.preventDefault();
  if (next >= 0) { draw(v); select(v, next, { later: true }); }
}

export default function ({ data, parentElement, setTriggerValue, key }) {
  const id = key ?? "tree";
  let v = memory.views.get(id);
  if (!v || !v.host.isConnected || v.host !== parentElement.querySelector(".trellis-tree")) {
    v = createView(parentElement);
    memory.views.set(id, v);
  }
  v.send = setTriggerValue;
  v.viewport.style.height = `${data.height}px`;
  if (data.tree) rememberTree(data.key, buildTree(data.tree));
  const tree = memory.trees.get(data.key);
  if (!tree) { // this page has not got the tree (a reload, another tab): ask for it again
    setTriggerValue("missing", data.key);
    return;
  }
  if (v.key !== data.key) { // a new trace: open its first levels
    Object.assign(v, { tree, key: data.key, open: new Set(), shownChildren: new Map(), selected: -1, fromPython: null });
    for (let i = 0; i < tree.n; i++) if (tree.depth[i] < OPEN_LEVELS - 1 && tree.childCount[i]) v.open.add(i);
  }
  v.matched = new Set((data.matched ?? []).map((m) => tree.index.get(m)).filter((i) => i !== undefined));
  const selected = tree.index.get(data.selected) ?? 0;
  if (selected !== v.fromPython) { // Python moved the selection (a button, a link, the overview): follow it
    v.fromPython = selected;
    if (selected !== v.selected) {
      reveal(v, selected);
      v.selected = selected;
      layout(v);
      scrollTo(v, rowOf(v, selected));
      return;
    }
  }
  layout(v);
}
