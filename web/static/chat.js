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

  /** Conversation so far, as sent to /ask: [{role, content}]. Only completed exchanges. */
  let history = [];
  let busy = false;
  let controller = null;
  let conversation = 0; // bumped by "New chat" so late replies of an old chat are dropped

  // Helpers shared with sources.js, stream.js and library.js (loaded after this file, in that
  // order), which add theirs; library.js sets `filters` to a function returning the filter
  // controls' values. The functions below are hoisted.
  const NewsQA = { h, icon, describeFailure, readJson, filters: null };
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
        NewsQA.answerParagraph(data.answer, citations, true),
        citations.length ? NewsQA.sourceList(citations, "Related passages", true) : null,
        meta,
      );
    }
    return h(
      "article",
      { class: "msg msg-bot msg-answer" },
      h("span", { class: "visually-hidden" }, "Answer: "),
      NewsQA.answerParagraph(data.answer, citations, false),
      NewsQA.droppedClaims(data),
      citations.length ? NewsQA.sourceList(citations, "Sources", false) : null,
      NewsQA.provenance(data),
      meta,
    );
  }

  /** The answer while it is being written: the text so far, its [n] chips on the given passages. */
  function writingMessage(text, citations) {
    return h(
      "article",
      { class: "msg msg-bot msg-answer msg-writing", "aria-busy": "true" },
      h("span", { class: "visually-hidden" }, "Answer, being written: "),
      NewsQA.answerParagraph(text, citations, true),
      h("p", { class: "meta" }, "Writing… each sentence is checked against its source when it is done."),
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
    const payload = { question, history: sentHistory, stream: true };
    if (filters) payload.filters = filters;
    setBusy(true);
    if (!again) addMessage(userMessage(question));
    let shown = addMessage(pendingMessage());

    controller = new AbortController();
    const ctl = controller;
    let timedOut = false;
    let timer = null;
    // The limit is on silence: a streamed answer may take longer as long as it keeps coming.
    const wait = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = true;
        ctl.abort();
      }, TIMEOUT_MS);
    };
    const show = (node) => {
      if (mine !== conversation) return;
      shown.replaceWith(node);
      shown = node;
    };
    wait();

    let reply;
    try {
      const res = await fetch(ASK_URL, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream, application/json" },
        body: JSON.stringify(payload),
        signal: ctl.signal,
        credentials: "same-origin",
      });
      const streamed = res.ok && (res.headers.get("Content-Type") || "").startsWith("text/event-stream");
      const body = streamed ? await readAnswer(res, show, wait) : await readJson(res);
      if (!res.ok) {
        reply = errorMessage(describeFailure(res.status, body), question);
      } else if (!body || typeof body.answer !== "string") {
        reply = errorMessage(describeFailure(500, body), question);
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
      show(reply);
      scrollToShow(reply);
    } else {
      shown.remove();
    }
    setBusy(false);
  }

  /** The response's JSON body, or null when it has none. */
  async function readJson(res) {
    try {
      return await res.json();
    } catch {
      return null;
    }
  }

  /** The final answer of an /ask event stream, showing the text while it is written; the error
   *  event's body (or null) if the stream ends without one. */
  async function readAnswer(res, show, wait) {
    let citations = [];
    let text = "";
    let final = null;
    let failed = null;
    let writing = null;
    await NewsQA.readEvents(res, (name, data) => {
      wait();
      if (name === "citations" && Array.isArray(data.citations)) citations = data.citations;
      else if (name === "final") final = data;
      else if (name === "error") failed = data;
      else if (name === "delta" && typeof data.text === "string") {
        text += data.text;
        const node = writingMessage(text, citations);
        show(node);
        if (!writing) scrollToShow(node);
        writing = node;
      }
    });
    return final || failed;
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
