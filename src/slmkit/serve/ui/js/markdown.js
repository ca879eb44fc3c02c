// A small, safe Markdown renderer: it builds DOM nodes and sets text with textContent, so
// no HTML in a model's answer is ever interpreted (`<script>` shows as the text `<script>`).
// Supported: fenced code blocks (with a copy button), headings, lists, block quotes,
// paragraphs, inline code, **bold**, *italic*. Links are shown as text, never followed.
import { el } from "./dom.js";
import { t } from "./i18n.js";

/** The Markdown `text` as a DocumentFragment. */
export function render(text) {
  const out = document.createDocumentFragment();
  const lines = text.replace(/\r\n/g, "\n").split("\n");
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    const fence = line.match(/^\s*(```|~~~)\s*([\w+-]*)/);
    if (fence) {
      const body = [];
      i++;
      while (i < lines.length && !lines[i].trim().startsWith(fence[1])) body.push(lines[i++]);
      i++;
      out.append(codeBlock(body.join("\n"), fence[2]));
      continue;
    }
    const heading = line.match(/^(#{1,6})\s+(.*)$/);
    if (heading) {
      out.append(el(`h${Math.min(6, heading[1].length + 2)}`, {}, inline(heading[2])));
      i++;
      continue;
    }
    if (/^\s*([-*+]|\d+[.)])\s+/.test(line)) {
      const ordered = /^\s*\d/.test(line);
      const list = el(ordered ? "ol" : "ul");
      while (i < lines.length && /^\s*([-*+]|\d+[.)])\s+/.test(lines[i])) {
        list.append(el("li", {}, inline(lines[i].replace(/^\s*([-*+]|\d+[.)])\s+/, ""))));
        i++;
      }
      out.append(list);
      continue;
    }
    if (/^\s*>/.test(line)) {
      const quoted = [];
      while (i < lines.length && /^\s*>/.test(lines[i])) quoted.push(lines[i++].replace(/^\s*>\s?/, ""));
      out.append(el("blockquote", {}, render(quoted.join("\n"))));
      continue;
    }
    if (!line.trim()) { i++; continue; }
    const para = [];
    while (i < lines.length && lines[i].trim() && !/^\s*(```|~~~|#{1,6}\s|>|[-*+]\s|\d+[.)]\s)/.test(lines[i])) {
      para.push(lines[i++]);
    }
    if (!para.length) para.push(lines[i++]);
    const p = el("p");
    para.forEach((l, k) => { if (k) p.append(el("br")); p.append(inline(l)); });
    out.append(p);
  }
  return out;
}

function codeBlock(code, lang) {
  const codeEl = el("code", lang ? { "data-lang": lang } : {}, code);
  const copy = el("button", { type: "button", class: "copy", "aria-label": `${t("copy")} ${lang || ""}`.trim() }, t("copy"));
  copy.addEventListener("click", async () => {
    try { await navigator.clipboard.writeText(code); } catch { fallbackCopy(code); }
    copy.textContent = t("copied");
    setTimeout(() => { copy.textContent = t("copy"); }, 1500);
  });
  return el("div", { class: "codeblock" }, copy, el("pre", { tabindex: "0" }, codeEl));
}

function fallbackCopy(text) {
  const area = el("textarea", { class: "sr", "aria-hidden": "true" }, text);
  document.body.append(area);
  area.select();
  document.execCommand("copy");
  area.remove();
}

const INLINE = /(`[^`]+`)|(\*\*[^*]+\*\*)|(\*[^*\s][^*]*\*)|(\[[^\]]+\]\([^)\s]+\))/;

/** Inline Markdown of one line as nodes. */
export function inline(text) {
  const frag = document.createDocumentFragment();
  let rest = text;
  for (;;) {
    const m = rest.match(INLINE);
    if (!m) { frag.append(rest); return frag; }
    frag.append(rest.slice(0, m.index));
    const token = m[0];
    if (m[1]) frag.append(el("code", {}, token.slice(1, -1)));
    else if (m[2]) frag.append(el("strong", {}, inline(token.slice(2, -2))));
    else if (m[3]) frag.append(el("em", {}, inline(token.slice(1, -1))));
    else frag.append(token); // a link: shown as written, never followed
    rest = rest.slice(m.index + token.length);
  }
}
