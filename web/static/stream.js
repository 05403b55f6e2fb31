// Streamed answers on the chat page: reading /ask's server-sent events, and showing what
// verification did to an LLM's answer (its unsupported sentences struck out, with the reason).
// Loaded after chat.js, whose helpers it uses through window.NewsQA; chat.js calls these per answer.
(() => {
  "use strict";

  const NewsQA = window.NewsQA;
  const { h } = NewsQA;

  /** Call onEvent(name, data) for each server-sent event of a fetch response, as it arrives. */
  async function readEvents(response, onEvent) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      buffer += decoder.decode(value || new Uint8Array(), { stream: !done }).replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let name = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) name = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (data.length) onEvent(name, JSON.parse(data.join("\n")));
      }
      if (done) return;
    }
  }

  /** The sentences verification did not confirm, each with why (tooltip and screen-reader text):
   *  struck out when removed from the answer, listed as unverified when QA_LLM_UNSUPPORTED=mark
   *  left them in it. */
  function droppedClaims(data) {
    const claims = Array.isArray(data.claims) ? data.claims : [];
    const unsupported = claims.filter((c) => c && c.supported === false && typeof c.text === "string");
    if (!unsupported.length || data.mode !== "generate") return null;
    const marked = unsupported.every((c) => String(data.answer).includes(c.text));
    const items = unsupported.map((c) => {
      const why = typeof c.reason === "string" && c.reason ? `Not supported: ${c.reason}.` : "Not supported by its cited source.";
      return h(
        "li",
        { class: "claim-dropped" },
        h(marked ? "span" : "del", { title: why }, c.text),
        h("span", { class: "visually-hidden" }, ` (${why})`),
      );
    });
    const heading = marked ? "Not verified" : "Removed by verification";
    return h(
      "section",
      { class: "dropped" },
      h("h3", {}, unsupported.length === 1 ? heading : `${heading} (${unsupported.length})`),
      h("ul", {}, items),
    );
  }

  /** One line on how the answer was made, when an LLM had a part in it; null otherwise. */
  function provenance(data) {
    if (data.mode === "generate") {
      return h("p", { class: "provenance" }, "Written by the LLM; every sentence kept was checked against the source it cites.");
    }
    if (typeof data.note === "string" && data.note) {
      return h("p", { class: "provenance" }, `Quoted from the articles: ${data.note}.`);
    }
    return null;
  }

  NewsQA.readEvents = readEvents;
  NewsQA.droppedClaims = droppedClaims;
  NewsQA.provenance = provenance;
})();
