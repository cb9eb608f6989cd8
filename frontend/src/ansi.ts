// Console text with ANSI SGR colour codes, rendered as text nodes in spans whose classes
// carry the colours (no inline styles: the CSP forbids them). Any other escape sequence is
// dropped, so nothing in a console line can become markup or move the cursor.
import { h } from "./dom";

// CSI sequences (ESC [ params final), OSC sequences (ESC ] ... BEL/ST), lone ESC x.
const ESCAPES = /\x1b\[([0-9;?]*)([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]?/g;

interface Style { fg: number | null; bg: number | null; bold: boolean; dim: boolean;
  italic: boolean; underline: boolean }

function apply(style: Style, params: string): Style {
  const codes = params === "" ? [0] : params.split(";").map((p) => Number(p) || 0);
  const s = { ...style };
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i];
    if (c === 0) Object.assign(s, { fg: null, bg: null, bold: false, dim: false,
      italic: false, underline: false });
    else if (c === 1) s.bold = true;
    else if (c === 2) s.dim = true;
    else if (c === 3) s.italic = true;
    else if (c === 4) s.underline = true;
    else if (c === 22) { s.bold = false; s.dim = false; }
    else if (c === 23) s.italic = false;
    else if (c === 24) s.underline = false;
    else if (c >= 30 && c <= 37) s.fg = c - 30;
    else if (c >= 90 && c <= 97) s.fg = c - 90 + 8;
    else if (c === 39) s.fg = null;
    else if (c >= 40 && c <= 47) s.bg = c - 40;
    else if (c >= 100 && c <= 107) s.bg = c - 100 + 8;
    else if (c === 49) s.bg = null;
    else if (c === 38 || c === 48) {
      // 256-colour (5;n) keeps the basic 16; truecolour (2;r;g;b) is dropped.
      const mode = codes[i + 1];
      const n = mode === 5 ? codes[i + 2] : null;
      if (n !== null && n !== undefined && n < 16) {
        if (c === 38) s.fg = n; else s.bg = n;
      }
      i += mode === 5 ? 2 : mode === 2 ? 4 : 0;
    }
  }
  return s;
}

function classes(s: Style): string {
  const out: string[] = [];
  if (s.fg !== null) out.push(`ansi-fg${s.fg}`);
  if (s.bg !== null) out.push(`ansi-bg${s.bg}`);
  if (s.bold) out.push("ansi-bold");
  if (s.dim) out.push("ansi-dim");
  if (s.italic) out.push("ansi-italic");
  if (s.underline) out.push("ansi-underline");
  return out.join(" ");
}

/** `text` without any escape sequence (for search and copying). */
export function stripAnsi(text: string): string {
  return text.replace(ESCAPES, "");
}

/** `text` as nodes: plain runs as text, coloured runs as classed spans. */
export function renderAnsi(text: string): Node[] {
  const nodes: Node[] = [];
  let style: Style = { fg: null, bg: null, bold: false, dim: false, italic: false,
    underline: false };
  let at = 0;
  const push = (part: string) => {
    if (!part) return;
    const cls = classes(style);
    nodes.push(cls ? h("span", { class: cls }, part) : document.createTextNode(part));
  };
  for (const m of text.matchAll(ESCAPES)) {
    push(text.slice(at, m.index));
    at = m.index + m[0].length;
    if (m[2] === "m") style = apply(style, m[1]);
  }
  push(text.slice(at));
  return nodes;
}
