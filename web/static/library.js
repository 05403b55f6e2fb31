// News QA: the composer's filter controls and the library panel (GET /documents).
// Plain JS, loaded after chat.js, whose DOM helpers it uses (window.NewsQA). Every piece of text
// from the server goes in as a text node, never as HTML.
(() => {
  "use strict";

  const DOCUMENTS_URL = "documents"; // relative, like "ask", so a path prefix works
  const PAGE = 20;
  const SITES_PAGE = 100; // the server's largest page: the sites offered in the source box
  const SEARCH_DELAY_MS = 250;
  const NO_SERVER = "Could not reach the server. Check your connection or that the server is running.";

  const { h, isHttpUrl, origin, articleLink, describeFailure, readJson } = window.NewsQA;
  const $ = (id) => document.getElementById(id);

  /** One page of GET /documents; throws an Error whose message is meant for people. */
  async function getPage(q, offset, limit, signal) {
    const params = new URLSearchParams({ q, offset: String(offset), limit: String(limit) });
    let res;
    try {
      res = await fetch(`${DOCUMENTS_URL}?${params}`, {
        headers: { Accept: "application/json" },
        signal,
        credentials: "same-origin",
      });
    } catch (err) {
      throw err && err.name === "AbortError" ? err : new Error(NO_SERVER);
    }
    const body = await readJson(res);
    if (!res.ok) throw new Error(describeFailure(res.status, body));
    if (!body || !Array.isArray(body.entries)) throw new Error("The server sent a reply this page could not read.");
    return body;
  }

  // ---- Filters: sent with each question while set (chat.js calls NewsQA.filters) ----

  const filtersBox = $("filters");
  const toggle = $("filters-toggle");
  const count = $("filters-count");
  const since = $("filter-since");
  const until = $("filter-until");
  const source = $("filter-source");
  const siteOptions = $("site-options");
  let sitesLoaded = false;

  function sources() {
    return source.value
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
  }

  /** The filters to send with a question, or null while none is set. */
  window.NewsQA.filters = () => {
    const list = sources();
    if (!since.value && !until.value && !list.length) return null;
    return { since: since.value || null, until: until.value || null, sources: list };
  };

  function updateFilters() {
    const n = [since.value, until.value, sources().length > 0].filter(Boolean).length;
    count.hidden = n === 0;
    count.textContent = n ? String(n) : "";
    // The visible word starts the accessible name, so voice control still finds "Filters".
    if (n) toggle.setAttribute("aria-label", `Filters, ${n} set`);
    else toggle.removeAttribute("aria-label");
    toggle.classList.toggle("is-active", n > 0);
    // The pickers keep the range the right way round; the server still checks what is typed.
    until.min = since.value;
    since.max = until.value;
  }

  function setFiltersOpen(open) {
    filtersBox.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
    if (open) {
      since.focus();
      loadSites();
    }
  }

  /** Offer the sites of the newest articles in the source box (once; quietly skipped on failure). */
  async function loadSites() {
    if (sitesLoaded) return;
    sitesLoaded = true;
    try {
      const page = await getPage("", 0, SITES_PAGE);
      const sites = new Set(page.entries.map((e) => e && e.site).filter((s) => typeof s === "string" && s));
      siteOptions.replaceChildren(...[...sites].sort().map((s) => h("option", { value: s })));
    } catch {
      sitesLoaded = false; // try again the next time the filters open
    }
  }

  toggle.addEventListener("click", () => setFiltersOpen(filtersBox.hidden));
  filtersBox.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    event.preventDefault();
    setFiltersOpen(false);
    toggle.focus();
  });
  for (const input of [since, until, source]) {
    input.addEventListener("input", updateFilters);
    input.addEventListener("change", updateFilters);
  }
  $("filters-clear").addEventListener("click", () => {
    since.value = "";
    until.value = "";
    source.value = "";
    updateFilters();
    since.focus();
  });

  // ---- Library: the indexed articles, newest first, searched by title ----

  const dialog = $("library");
  const opener = $("library-open");
  const search = $("library-q");
  const list = $("library-list");
  const statusEl = $("library-status");
  const more = $("library-more");
  let query = "";
  let loaded = 0;
  let total = 0;
  let inFlight = null; // the AbortController of the request in flight
  let searchTimer = 0;

  function entryItem(e) {
    const title = typeof e.title === "string" && e.title ? e.title : "Untitled article";
    const heading = isHttpUrl(e.url)
      ? articleLink(e.url, { class: "lib-title" }, title, h("span", { class: "visually-hidden" }, " (opens in a new tab)"))
      : h("span", { class: "lib-title" }, title);
    // A file's path says where an article without an address came from.
    const path = !isHttpUrl(e.url) && typeof e.source === "string" ? h("code", { class: "lib-source" }, e.source) : null;
    return h("li", { class: "lib-item", tabindex: "-1" }, heading, origin(e, "lib-origin"), path);
  }

  function summary() {
    const n = total === 1 ? "1 article" : `${total} articles`;
    if (total === 0) return query ? `No article title contains “${query}”.` : "No articles are indexed yet.";
    const which = query ? `${n} with “${query}” in the title` : `${n} indexed`;
    return loaded < total ? `${which}; showing the newest ${loaded}.` : `${which}.`;
  }

  async function load(reset) {
    if (inFlight) inFlight.abort();
    const ctl = new AbortController();
    inFlight = ctl;
    const offset = reset ? 0 : loaded;
    if (reset) statusEl.textContent = "Loading…";
    more.disabled = true;
    try {
      const page = await getPage(query, offset, PAGE, ctl.signal);
      const items = page.entries.filter((e) => e && typeof e === "object").map(entryItem);
      if (reset) list.replaceChildren(...items);
      else list.append(...items);
      loaded = offset + items.length;
      total = Number(page.total) || 0;
      more.hidden = loaded >= total;
      statusEl.textContent = summary();
      // After "Show more", keyboard and screen reader users continue at the first new article.
      if (!reset && items.length) items[0].focus();
    } catch (err) {
      if (ctl.signal.aborted) return; // replaced by a newer request
      statusEl.textContent = err && err.message ? err.message : NO_SERVER;
      if (reset) {
        list.replaceChildren();
        more.hidden = true;
      }
    } finally {
      if (inFlight === ctl) {
        inFlight = null;
        more.disabled = false;
      }
    }
  }

  function searchNow() {
    clearTimeout(searchTimer);
    query = search.value.trim();
    load(true);
  }

  opener.addEventListener("click", () => {
    dialog.showModal();
    opener.setAttribute("aria-expanded", "true");
    search.focus();
    load(true); // every time: the index may have changed since (hot reload)
  });
  $("library-close").addEventListener("click", () => dialog.close());
  // A click on the backdrop (the dialog box itself, outside the inner content) closes it.
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) dialog.close();
  });
  dialog.addEventListener("close", () => {
    if (inFlight) inFlight.abort();
    opener.setAttribute("aria-expanded", "false");
    opener.focus();
  });
  search.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(searchNow, SEARCH_DELAY_MS);
  });
  $("library-search").addEventListener("submit", (event) => {
    event.preventDefault();
    searchNow();
  });
  more.addEventListener("click", () => load(false));

  updateFilters();
})();
