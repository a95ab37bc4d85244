// Mark or unmark a span by hand for the pseudonymised copies (transcript page, original view).
// Kept apart from job.js: the page calls initMarks() once and gives it what it needs.
import { ApiError, api, el, notify } from "./app.js";
import { lang } from "./i18n.js";

const TEXTS = {
  fr: {
    title: "Données personnelles",
    help: "Sélectionnez un ou plusieurs mots d'un même segment dans la transcription, puis :",
    none: "Aucun mot sélectionné.",
    selected: "Sélection : « {text} » (segment {s})",
    mark: "Masquer dans les copies pseudonymisées",
    unmark: "Laisser en clair",
    marked: "« {text} » sera masqué dans toutes les copies pseudonymisées.",
    unmarked: "« {text} » restera en clair à cet endroit.",
    one_segment: "Sélectionnez des mots d'un seul segment.",
    conflict: "Ces mots ont été modifiés entre-temps : la page a été rechargée.",
    error: "Erreur : {error}",
    history_mark: "masqué à la main",
    history_unmark: "laissé en clair à la main",
  },
  en: {
    title: "Personal data",
    help: "Select one or more words of one segment in the transcript, then:",
    none: "No word selected.",
    selected: "Selected: “{text}” (segment {s})",
    mark: "Hide in the pseudonymised copies",
    unmark: "Leave in clear",
    marked: "“{text}” will be hidden in every pseudonymised copy.",
    unmarked: "“{text}” will stay in clear at this place.",
    one_segment: "Select words of a single segment.",
    conflict: "These words were changed meanwhile: the page was reloaded.",
    error: "Error: {error}",
    history_mark: "hidden by hand",
    history_unmark: "left in clear by hand",
  },
};

/** A text of this module in the page's language. */
export function markText(key, vars = {}) {
  const table = TEXTS[lang()] || TEXTS.fr;
  return (table[key] || TEXTS.fr[key] || key).replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

/**
 * The words selected in the transcript: { segmentId, wordIndex, wordCount, before } or null (nothing
 * selected), or { error } when the selection spans several segments or skips words.
 */
function selectedSpan(container, doc) {
  const selection = window.getSelection();
  if (!selection || selection.rangeCount === 0 || selection.isCollapsed) return null;
  const range = selection.getRangeAt(0);
  const spans = [...container.querySelectorAll(".w[data-s][data-i]")].filter((w) => range.intersectsNode(w));
  if (!spans.length) return null;
  const segments = new Set(spans.map((w) => w.dataset.s));
  if (segments.size !== 1) return { error: markText("one_segment") };
  const segmentId = Number(spans[0].dataset.s);
  const indexes = spans.map((w) => Number(w.dataset.i)).sort((a, b) => a - b);
  const first = indexes[0];
  const count = indexes[indexes.length - 1] - first + 1;
  const segment = (doc.segments || []).find((s) => s.id === segmentId);
  if (!segment || !segment.words) return null;
  const words = segment.words.slice(first, first + count).map((w) => w.text.trim());
  return { segmentId, wordIndex: first, wordCount: count, before: words.join(" ") };
}

/**
 * Add the "personal data" card to the page and wire it.
 *
 * @param {object} page
 * @param {string} page.jobId
 * @param {HTMLElement} page.container the transcript's element (words are `.w[data-s][data-i]`)
 * @param {HTMLElement} page.place where the card goes (the side column)
 * @param {() => object} page.doc the transcript document shown
 * @param {() => boolean} page.editable whether marks may be made now (original view, owning unit)
 * @param {() => Promise<void>} page.after what to do after a mark was recorded (reload, history...)
 */
export function initMarks({ jobId, container, place, doc, editable, after }) {
  const status = el("p", { id: "marks-selection", class: "muted small", text: markText("none") });
  const markButton = el("button", { type: "button", id: "mark-selection", disabled: true, text: markText("mark") });
  const unmarkButton = el("button", {
    type: "button",
    id: "unmark-selection",
    class: "secondary",
    disabled: true,
    text: markText("unmark"),
  });
  const card = el(
    "section",
    { class: "card", id: "marks", "aria-labelledby": "marks-title" },
    el("h2", { id: "marks-title", text: markText("title") }),
    el("p", { class: "muted small", text: markText("help") }),
    status,
    el("p", { class: "actions" }, markButton, " ", unmarkButton),
  );
  place.prepend(card);
  let current = null;

  const update = () => {
    card.hidden = !editable();
    const span = card.hidden ? null : selectedSpan(container, doc());
    current = span && !span.error ? span : null;
    status.textContent = span
      ? span.error || markText("selected", { text: span.before, s: span.segmentId })
      : markText("none");
    markButton.disabled = unmarkButton.disabled = current === null;
  };

  const send = async (marked) => {
    const span = current;
    if (!span) return;
    const body = {
      marks: [
        {
          segment_id: span.segmentId,
          word_index: span.wordIndex,
          word_count: span.wordCount,
          before: span.before,
          marked,
        },
      ],
    };
    try {
      await api(`/v1/jobs/${encodeURIComponent(jobId)}/marks`, { method: "POST", json: body });
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) {
        notify(markText("conflict"), "error");
        await after();
        return;
      }
      notify(markText("error", { error: e.message }), "error");
      return;
    }
    notify(markText(marked ? "marked" : "unmarked", { text: span.before }));
    window.getSelection()?.removeAllRanges();
    await after();
    update();
  };

  markButton.addEventListener("click", () => send(true));
  unmarkButton.addEventListener("click", () => send(false));
  document.addEventListener("selectionchange", update);
  update();
  return { update };
}
