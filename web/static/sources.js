// Citations on the chat page: [n] chips in an answer, the list of sources under it, and the dialog
// that shows a cited passage with the quoted sentence(s) highlighted. Loaded after chat.js, whose
// DOM helpers it uses through window.NewsQA, and adds its own there. Every piece of text from
// articles is inserted as a text node, never as HTML.
(() => {
  "use strict";

  const NewsQA = window.NewsQA;
  const { h, icon } = NewsQA;
  const $ = (id) => document.getElementById(id);
  const dialog = $("source-dialog");
  const dialogTitle = $("source-title");
  const dialogKicker = $("source-kicker");
  const dialogMeta = $("source-meta");
  const dialogNote = $("passage-note");
  const dialogPassage = $("source-passage");
  let returnFocusTo = null;

  /** Split a citation's passage into [before, quote, after] using document offsets. */
  function splitPassage(c) {
    // Offsets come from Python and count code points; Array.from splits by code point too,
    // so emoji and other astral characters before the quote do not shift the highlight.
    const chars = Array.from(typeof c.text === "string" ? c.text : "");
    let a = Number(c.start) - Number(c.passage_start);
    let b = Number(c.end) - Number(c.passage_start);
    if (!Number.isFinite(a) || !Number.isFinite(b)) return [chars.join(""), "", ""];
    a = Math.min(Math.max(a, 0), chars.length);
    b = Math.min(Math.max(b, a), chars.length);
    return [chars.slice(0, a).join(""), chars.slice(a, b).join(""), chars.slice(b).join("")];
  }

  function isHttpUrl(s) {
    if (typeof s !== "string" || !/^https?:\/\//i.test(s)) return false;
    try {
      const u = new URL(s);
      return u.protocol === "http:" || u.protocol === "https:";
    } catch {
      return false;
    }
  }

  function citationLabel(c) {
    return `Source ${c.id}: ${c.title || "untitled article"}`;
  }

  /** A <time> showing the day of an ISO 8601 date in the reader's locale ("Mar 12, 2024" in en-US), or null. */
  function dateNode(iso) {
    const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(typeof iso === "string" ? iso : "");
    if (!m) return null;
    // UTC on both sides: a bare date must not shift a day in the reader's time zone.
    const day = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
    if (Number.isNaN(day.getTime())) return null;
    const label = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeZone: "UTC" }).format(day);
    return h("time", { datetime: m[0] }, label);
  }

  /** "Site · date" of an article, as far as either is known; null when neither is. */
  function origin(item, className) {
    const site = typeof item.site === "string" && item.site.trim() ? item.site.trim() : null;
    const date = dateNode(item.published);
    if (!site && !date) return null;
    return h("span", { class: className }, site, site && date ? " · " : null, date);
  }

  /** A link to a web article, opened in a new tab without telling it where the reader came from. */
  function articleLink(url, attrs, ...children) {
    return h("a", { ...attrs, href: url, target: "_blank", rel: "noopener noreferrer" }, ...children);
  }

  function openSource(c, opener, related) {
    returnFocusTo = opener || document.activeElement;
    dialogKicker.textContent = related ? `Related passage ${c.id}` : `Source ${c.id}`;
    const title = c.title || "Untitled article";
    dialogTitle.replaceChildren(isHttpUrl(c.url) ? articleLink(c.url, {}, title) : title);

    const rows = [];
    if (c.site) rows.push(["Site", c.site]);
    if (c.published) rows.push(["Published", dateNode(c.published) || c.published]);
    if (c.section) rows.push(["Section", c.section]);
    if (c.source) {
      const value = isHttpUrl(c.source) ? articleLink(c.source, {}, c.source) : h("code", {}, c.source);
      rows.push(["Source", value]);
    }
    dialogMeta.replaceChildren(...rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));

    const [before, quote, after] = splitPassage(c);
    if (related || !quote) {
      dialogNote.textContent = related
        ? "The answer did not quote this passage; it is among the closest the search found."
        : "";
      dialogPassage.replaceChildren(before + quote + after);
    } else {
      dialogNote.textContent = "The highlighted text is what the answer quotes.";
      dialogPassage.replaceChildren(before, h("mark", {}, quote), after);
    }

    if (!dialog.open) dialog.showModal();
    dialog.scrollTop = 0;
    const mark = dialogPassage.querySelector("mark");
    if (mark && mark.offsetTop > dialog.clientHeight * 0.6) mark.scrollIntoView({ block: "center" });
    $("source-close").focus();
  }

  $("source-close").addEventListener("click", () => dialog.close());
  // A click on the backdrop (the dialog box itself, outside the inner content) closes it.
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) dialog.close();
  });
  dialog.addEventListener("close", () => {
    const target = returnFocusTo;
    returnFocusTo = null;
    if (target && target.isConnected) target.focus();
    else document.getElementById("question").focus();
  });

  function citeChip(c, related) {
    const chip = h("button", { type: "button", class: "cite", "aria-label": citationLabel(c) }, String(c.id));
    chip.addEventListener("click", () => openSource(c, chip, related));
    return chip;
  }

  /** The answer text with each [n] marker turned into a citation chip. */
  function answerParagraph(text, citations, related) {
    const byId = new Map(citations.map((c) => [Number(c.id), c]));
    const p = h("p", { class: "answer-text" });
    const re = /\s?\[(\d+)\]/g;
    let last = 0;
    let m;
    while ((m = re.exec(text)) !== null) {
      const c = byId.get(Number(m[1]));
      if (!c) continue;
      p.append(text.slice(last, m.index), "\u00a0", citeChip(c, related));
      last = re.lastIndex;
    }
    p.append(text.slice(last));
    return p;
  }

  function sourceList(citations, heading, related) {
    const items = citations.map((c) => {
      const [, quote] = splitPassage(c);
      const preview = related || !quote ? (typeof c.text === "string" ? c.text : "") : quote;
      const btn = h(
        "button",
        { type: "button", class: "source-btn", "aria-label": `${citationLabel(c)}. Show the passage.` },
        h("span", { class: "cite num", "aria-hidden": "true" }, String(c.id)),
        h(
          "span",
          { class: "source-title" },
          c.title || "Untitled article",
          c.section ? h("span", { class: "section" }, ` · ${c.section}`) : null,
        ),
        origin(c, "source-origin"),
        h("span", { class: "source-quote" }, preview.replace(/\s+/g, " ").trim()),
      );
      btn.addEventListener("click", () => openSource(c, btn, related));
      const where = c.site || (isHttpUrl(c.url) ? new URL(c.url).host : "");
      const link = isHttpUrl(c.url)
        ? articleLink(
            c.url,
            { class: "btn btn-icon source-link", "aria-label": `Open “${c.title || "the article"}” on ${where} (new tab)` },
            icon(["M8 4H5.5A1.5 1.5 0 0 0 4 5.5v9A1.5 1.5 0 0 0 5.5 16h9a1.5 1.5 0 0 0 1.5-1.5V12", "M11 4h5v5", "M16 4l-7 7"]),
          )
        : null;
      return h("li", { class: "source-item" }, btn, link);
    });
    return h("section", { class: "sources" }, h("h3", {}, heading), h("ol", {}, items));
  }

  Object.assign(NewsQA, { isHttpUrl, origin, articleLink, answerParagraph, sourceList });
})();
