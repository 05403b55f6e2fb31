// News QA chat page. Plain JS, no build step, nothing external.
// Every piece of text from articles, answers or the user is inserted as a text node
// (textContent / createTextNode), never as HTML.
(() => {
  "use strict";

  const TIMEOUT_MS = 30000;
  const ASK_URL = "ask"; // relative, so the app also works mounted under a path prefix

  const $ = (id) => document.getElementById(id);
  const form = $("composer");
  // The server's QA_MAX_HISTORY_TURNS, written into the page: the most recent turns are sent.
  const MAX_HISTORY_TURNS = Number(form.dataset.maxHistoryTurns) || 0;
  const input = $("question");
  const sendBtn = $("send");
  const statusEl = $("status");
  const transcript = $("transcript");
  const empty = $("empty");
  const scroller = $("main");
  const newChatBtn = $("new-chat");
  const dialog = $("source-dialog");
  const dialogTitle = $("source-title");
  const dialogKicker = $("source-kicker");
  const dialogMeta = $("source-meta");
  const dialogNote = $("passage-note");
  const dialogPassage = $("source-passage");

  /** Conversation so far, as sent to /ask: [{role, content}]. Only completed exchanges. */
  let history = [];
  let busy = false;
  let controller = null;
  let conversation = 0; // bumped by "New chat" so late replies of an old chat are dropped
  let returnFocusTo = null;

  // Helpers shared with library.js (loaded after this file), which sets `filters` to a function
  // returning the filter controls' values. The functions below are hoisted.
  const NewsQA = { h, icon, isHttpUrl, dateNode, origin, articleLink, describeFailure, filters: null };
  window.NewsQA = NewsQA;

  // ---- DOM helpers ----

  /** createElement with attributes and children; strings become text nodes. */
  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const SVG_NS = "http://www.w3.org/2000/svg";
  function icon(paths) {
    const svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 20 20");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    for (const d of paths) {
      const p = document.createElementNS(SVG_NS, "path");
      p.setAttribute("d", d);
      p.setAttribute("fill", "none");
      p.setAttribute("stroke", "currentColor");
      p.setAttribute("stroke-width", "1.8");
      p.setAttribute("stroke-linecap", "round");
      svg.append(p);
    }
    return svg;
  }

  function scrollToShow(node) {
    // Newest at the bottom: show the new message; if it is taller than the view, show its start.
    requestAnimationFrame(() => {
      const tall = node.offsetHeight > scroller.clientHeight - 24;
      node.scrollIntoView({ block: tall ? "start" : "end", behavior: "auto" });
    });
  }

  function addMessage(node) {
    empty.hidden = true;
    // Only the latest error offers "Try again": retrying an old one would answer out of order.
    for (const btn of transcript.querySelectorAll(".msg-error .retry")) btn.remove();
    transcript.append(node);
    scrollToShow(node);
    return node;
  }

  // ---- Citations ----

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
    else input.focus();
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

  // ---- Messages ----

  function userMessage(question) {
    return h(
      "article",
      { class: "msg msg-user" },
      h("span", { class: "visually-hidden" }, "You asked: "),
      h("p", {}, question),
    );
  }

  function pendingMessage() {
    return h(
      "article",
      { class: "msg msg-bot msg-pending", "aria-label": "Thinking" },
      h("span", { class: "dots", "aria-hidden": "true" }, h("i"), h("i"), h("i")),
      h("span", {}, "Searching the articles…"),
    );
  }

  function answerMessage(data, filtered) {
    const citations = Array.isArray(data.citations) ? data.citations.filter((c) => c && typeof c === "object") : [];
    const total = data.timings_ms && Number(data.timings_ms.total);
    const meta = Number.isFinite(total)
      ? h(
          "p",
          { class: "meta" },
          `Answered in ${total < 1000 ? `${Math.round(total)} ms` : `${(total / 1000).toFixed(1)} s`}`,
          filtered ? " · from the filtered articles only" : null,
        )
      : null;

    if (data.abstained) {
      return h(
        "article",
        { class: "msg msg-bot msg-abstain" },
        h(
          "p",
          { class: "abstain-head" },
          icon(["M10 17.5a7.5 7.5 0 1 0 0-15 7.5 7.5 0 0 0 0 15Z", "M10 9.2v4.6", "M10 6.4v.1"]),
          "The articles don’t say",
        ),
        answerParagraph(data.answer, citations, true),
        citations.length ? sourceList(citations, "Related passages", true) : null,
        meta,
      );
    }
    return h(
      "article",
      { class: "msg msg-bot msg-answer" },
      h("span", { class: "visually-hidden" }, "Answer: "),
      answerParagraph(data.answer, citations, false),
      citations.length ? sourceList(citations, "Sources", false) : null,
      meta,
    );
  }

  function errorMessage(text, question) {
    const retry = h("button", { type: "button", class: "btn retry" }, "Try again");
    const node = h(
      "article",
      { class: "msg msg-bot msg-error" },
      h("p", { class: "error-text" }, h("strong", {}, "Couldn’t get an answer."), text),
      retry,
    );
    retry.addEventListener("click", () => {
      if (busy) return;
      node.remove();
      input.focus();
      ask(question, { again: true });
    });
    return node;
  }

  // ---- Talking to /ask ----

  function describeFailure(status, body) {
    const msg = body && body.error && typeof body.error.message === "string" ? body.error.message.trim() : "";
    if (msg) return capitalise(msg.endsWith(".") ? msg : `${msg}.`);
    if (status === 401) return "This server needs an API key.";
    if (status === 413) return "The question or conversation is too long. Start a new chat or shorten it.";
    if (status === 422) return "The server could not accept that question.";
    if (status === 503) return "The server has no articles loaded yet.";
    if (status >= 500) return `The server hit an error (HTTP ${status}). Please try again.`;
    return `The server answered with HTTP ${status}.`;
  }

  function capitalise(s) {
    return s ? s[0].toUpperCase() + s.slice(1) : s;
  }

  function setBusy(on) {
    busy = on;
    form.setAttribute("aria-busy", on ? "true" : "false");
    statusEl.hidden = !on;
    updateSend();
  }

  function updateSend() {
    sendBtn.disabled = busy || input.value.trim() === "";
  }

  async function ask(rawQuestion, { again = false } = {}) {
    const question = rawQuestion.trim();
    if (busy || !question) return;
    const mine = conversation;
    const sentHistory = MAX_HISTORY_TURNS > 0 ? history.slice(-MAX_HISTORY_TURNS) : [];
    // The filter controls (library.js); sent only when set, so a plain question stays plain.
    const filters = typeof NewsQA.filters === "function" ? NewsQA.filters() : null;
    const payload = filters ? { question, history: sentHistory, filters } : { question, history: sentHistory };
    setBusy(true);
    if (!again) addMessage(userMessage(question));
    const pending = addMessage(pendingMessage());

    controller = new AbortController();
    const ctl = controller;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ctl.abort();
    }, TIMEOUT_MS);

    let reply;
    try {
      const res = await fetch(ASK_URL, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(payload),
        signal: ctl.signal,
        credentials: "same-origin",
      });
      let body = null;
      try {
        body = await res.json();
      } catch {
        body = null;
      }
      if (!res.ok) {
        reply = errorMessage(describeFailure(res.status, body), question);
      } else if (!body || typeof body.answer !== "string") {
        reply = errorMessage("The server sent a reply this page could not read.", question);
      } else {
        reply = answerMessage(body, Boolean(filters));
        if (mine === conversation) {
          history.push({ role: "user", content: question }, { role: "assistant", content: body.answer });
        }
      }
    } catch (err) {
      if (timedOut) {
        reply = errorMessage(`The server took longer than ${TIMEOUT_MS / 1000} seconds to answer. Please try again.`, question);
      } else if (err && err.name === "AbortError") {
        reply = null; // cancelled by "New chat"
      } else {
        reply = errorMessage("Could not reach the server. Check your connection or that the server is running, then try again.", question);
      }
    } finally {
      clearTimeout(timer);
    }

    if (mine !== conversation) return; // the chat was reset meanwhile; the reset cleared the busy state
    controller = null;
    if (reply) {
      pending.replaceWith(reply);
      scrollToShow(reply);
    } else {
      pending.remove();
    }
    setBusy(false);
  }

  function newChat() {
    conversation += 1;
    if (controller) controller.abort();
    controller = null;
    history = [];
    transcript.replaceChildren();
    empty.hidden = false;
    input.value = "";
    resize();
    setBusy(false);
    scroller.scrollTop = 0;
    input.focus();
  }

  // ---- Composer ----

  const autoSized = typeof CSS !== "undefined" && CSS.supports && CSS.supports("field-sizing", "content");
  function resize() {
    if (autoSized) return;
    input.style.height = "auto"; // CSSOM, not a style attribute in markup: allowed by the CSP
    input.style.height = `${Math.min(input.scrollHeight, 192)}px`;
  }

  function submit() {
    if (busy) return;
    const question = input.value;
    if (!question.trim()) return;
    input.value = "";
    resize();
    ask(question);
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });

  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault(); // Enter asks; Shift+Enter falls through and adds a new line
      submit();
    }
  });

  input.addEventListener("input", () => {
    resize();
    updateSend();
  });

  newChatBtn.addEventListener("click", newChat);

  for (const btn of document.querySelectorAll(".example")) {
    btn.addEventListener("click", () => {
      if (busy) return;
      ask(btn.dataset.question || btn.textContent || "");
    });
  }

  updateSend();
  resize();
  if (window.matchMedia("(pointer: fine)").matches) input.focus();
})();
