// The transcript editor, keyboard first (as oTranscribe): a selection of words, spans replaced, inserted or
// deleted, words given to another speaker, turns split and merged, times nudged, undo/redo, re-translation,
// playback speed. Every change is a correction row recorded by the API (POST /v1/jobs/{id}/corrections);
// an undo is a revert row, a redo a revert of that revert. The page (job.js) draws the transcript and calls
// `decorate()` after each drawing; this module keeps to its own functions and elements (`#editor-tools`,
// `.sel`, `.retranslate`, `#speed`) so that other controls of the page stay apart.
import { ApiError, api, editKeys, el, notify, plural } from "./app.js";
import { t } from "./i18n.js";

const NUDGE_S = 0.1;
const SPEEDS = [0.5, 0.75, 1, 1.25, 1.5, 1.75, 2];

let ctx = null; // {jobId, state, container, audio, reload, speakerNames}
const selection = { segment: null, from: null, to: null }; // inclusive word indexes in one segment
const history = { undo: [], redo: [] }; // groups of correction rows of this session (their ids)

// --- set-up --------------------------------------------------------------------------------------------

/** Install the editor on the page: its toolbar, its keys, the speed control. */
export function initEditor(context) {
  ctx = context;
  buildToolbar();
  buildSpeed();
  ctx.container.addEventListener("keydown", onWordKey, true); // capture: before the page's word keys
  ctx.container.addEventListener("click", onWordClick, true);
  document.addEventListener("keydown", onPageKey);
}

function editable() {
  return ctx && ctx.state.view === "original" && !ctx.state.pseudoOnly;
}

/** After each drawing of the transcript: the selection painted again, re-translate buttons, the toolbar. */
export function decorate() {
  const tools = document.getElementById("editor-tools");
  if (tools) tools.hidden = !editable();
  paintSelection();
  addRetranslateButtons();
  fillSpeakerMenu();
}

/** Remember rows just recorded by the page (a word typed, a speaker renamed) as one undo step. */
export function remember(rows) {
  const ids = (rows || []).map((r) => r.id).filter((id) => id != null);
  if (!ids.length) return;
  history.undo.push(ids);
  history.redo = [];
  updateUndoButtons();
}

// --- toolbar ---------------------------------------------------------------------------------------------

function toolButton(id, key, action) {
  return el("button", { type: "button", id, class: "secondary small", text: t(key), onclick: action });
}

function buildToolbar() {
  const menu = el("select", { id: "give-selection", "aria-label": t("give_selection_label") });
  menu.addEventListener("change", () => {
    if (menu.value) giveSelection(menu.value);
  });
  const tools = el(
    "div",
    { id: "editor-tools", class: "editor-tools", role: "toolbar", "aria-label": t("editor_tools") },
    toolButton("undo", "undo", undo),
    toolButton("redo", "redo", redo),
    toolButton("insert-words", "insert_words", () => insertWords(true)),
    toolButton("delete-words", "delete_words", deleteSelection),
    toolButton("split-turn", "split_turn", splitHere),
    toolButton("merge-turn", "merge_turn", mergeNext),
    menu,
    el("p", { id: "edit-status", class: "muted small", "aria-live": "polite" }),
    timeSliders(),
  );
  ctx.container.before(tools);
  updateUndoButtons();
  ctx.container.addEventListener("focusin", (event) => {
    const node = event.target.closest && event.target.closest(".w");
    if (node) fillSliders(node);
  });
}

// --- times by dragging: two sliders for the focused word's start and end ----------------------------------

function slider(id, key, edge) {
  // disabled (not hidden) until a word has the focus: showing them then would move the text under the mouse
  const input = el("input", { type: "range", id, step: "0.01", min: "0", max: "1", value: "0", disabled: true });
  const output = el("output", { for: id, id: `${id}-value` });
  input.addEventListener("input", () => {
    output.textContent = `${seconds(input.value)} s`;
  });
  input.addEventListener("change", () => dragTimes(edge, Number(input.value)));
  return el("div", { class: "slider" }, el("label", { for: id, text: t(key) }), input, output);
}

function timeSliders() {
  return el(
    "div",
    { id: "time-sliders", class: "time-sliders" },
    slider("word-start", "word_start", "start"),
    slider("word-end", "word_end", "end"),
  );
}

let sliderWord = null; // {segmentId, index} of the word the sliders show

/** The sliders on the focused word: bounded by its neighbours (or its turn), at its times. */
function fillSliders(node) {
  const box = document.getElementById("time-sliders");
  const segment = segmentById(Number(node.dataset.s));
  const index = Number(node.dataset.i);
  const words = wordsOf(segment);
  const word = words[index];
  if (!box || !word || !editable()) return;
  sliderWord = { segmentId: segment.id, index };
  const low = index > 0 ? words[index - 1].start : segment.start;
  const high = index + 1 < words.length ? words[index + 1].end : segment.end;
  for (const [id, value] of [
    ["word-start", word.start],
    ["word-end", word.end],
  ]) {
    const input = document.getElementById(id);
    input.min = String(low);
    input.max = String(high);
    input.value = String(value);
    input.disabled = false;
    input.setAttribute("aria-valuetext", `${seconds(value)} s`);
    document.getElementById(`${id}-value`).textContent = `${seconds(value)} s`;
  }
}

async function dragTimes(edge, value) {
  if (!sliderWord) return;
  const segment = segmentById(sliderWord.segmentId);
  const word = wordsOf(segment)[sliderWord.index];
  if (!word) return;
  const before = [word.start, word.end];
  const after = edge === "start" ? [rounded(value), word.end] : [word.start, rounded(value)];
  if (after[0] > after[1]) {
    notify(t("times_order"), "error");
    fillSliders(wordNode(segment.id, sliderWord.index));
    return;
  }
  const op = { op: "times", segment_id: segment.id, word_index: sliderWord.index, before, after };
  const { index } = sliderWord;
  if (!(await record([op]))) return;
  await redraw(segment.id, index);
  const status = document.getElementById("edit-status");
  if (status) status.textContent = t("word_times", { start: seconds(after[0]), end: seconds(after[1]) });
}

function fillSpeakerMenu() {
  const menu = document.getElementById("give-selection");
  if (!menu || !ctx.state.doc) return;
  const names = ctx.speakerNames(ctx.state.doc);
  menu.replaceChildren(
    el("option", { value: "", text: t("give_selection") }),
    ...[...names.entries()].map(([id, name]) => el("option", { value: id, text: name })),
  );
  menu.disabled = names.size < 2;
}

function updateUndoButtons() {
  const undoButton = document.getElementById("undo");
  const redoButton = document.getElementById("redo");
  if (undoButton) undoButton.disabled = !history.undo.length;
  if (redoButton) redoButton.disabled = !history.redo.length;
}

function buildSpeed() {
  const tools = document.querySelector(".player-tools");
  if (!tools) return;
  const output = el("output", { id: "speed", "aria-live": "polite", text: speedText(1) });
  tools.append(el("span", { class: "speed" }, el("span", { text: `${t("speed")} : ` }), output));
  ctx.audio.addEventListener("ratechange", () => {
    output.textContent = speedText(ctx.audio.playbackRate);
  });
}

function speedText(rate) {
  return `${String(rate).replace(".", t("decimal"))}×`;
}

/** One step faster (+1) or slower (-1) among SPEEDS; the pitch kept. */
export function changeSpeed(step) {
  const now = ctx.audio.playbackRate || 1;
  const index = SPEEDS.findIndex((s) => s >= now - 1e-6);
  const next = SPEEDS[Math.min(SPEEDS.length - 1, Math.max(0, (index < 0 ? 2 : index) + step))];
  ctx.audio.preservesPitch = true;
  ctx.audio.playbackRate = next;
  document.getElementById("speed").textContent = speedText(next);
  notify(t("speed_now", { rate: speedText(next) }), "info");
}

// --- the document ----------------------------------------------------------------------------------------

function segments() {
  return (ctx.state.doc && ctx.state.doc.segments) || [];
}

function segmentById(id) {
  return segments().find((s) => s.id === id) || null;
}

function wordsOf(segment) {
  return (segment && segment.words) || [];
}

function wordText(word) {
  return String(word.text).trim();
}

function wordNode(segmentId, index) {
  return ctx.container.querySelector(`.w[data-s="${segmentId}"][data-i="${index}"]`);
}

function focused() {
  const node = document.activeElement && document.activeElement.closest && document.activeElement.closest(".w");
  return node && ctx.container.contains(node) ? node : null;
}

/** The words the next operation acts on: the selection, else the focused word. */
function target() {
  if (selection.segment !== null) {
    const segment = segmentById(selection.segment);
    if (segment) return { segment, from: selection.from, to: selection.to };
  }
  const node = focused();
  if (!node) return null;
  const segment = segmentById(Number(node.dataset.s));
  const index = Number(node.dataset.i);
  return segment ? { segment, from: index, to: index } : null;
}

// --- selection -------------------------------------------------------------------------------------------

function clearSelection() {
  selection.segment = selection.from = selection.to = null;
  paintSelection();
}

/** Extend the selection from the focused word by `step` words (within its turn). */
function extendSelection(node, step) {
  const segmentId = Number(node.dataset.s);
  const index = Number(node.dataset.i);
  if (selection.segment !== segmentId) {
    selection.segment = segmentId;
    selection.from = selection.to = index;
    selection.anchor = index;
  }
  const count = wordsOf(segmentById(segmentId)).length;
  const head = Math.min(count - 1, Math.max(0, index + step));
  selection.from = Math.min(selection.anchor, head);
  selection.to = Math.max(selection.anchor, head);
  paintSelection();
  wordNode(segmentId, head)?.focus();
}

function paintSelection() {
  if (!ctx) return;
  for (const node of ctx.container.querySelectorAll(".w.sel")) {
    node.classList.remove("sel");
    node.removeAttribute("aria-selected");
  }
  const status = document.getElementById("edit-status");
  if (selection.segment === null) {
    if (status) status.textContent = "";
    return;
  }
  for (let i = selection.from; i <= selection.to; i += 1) {
    const node = wordNode(selection.segment, i);
    if (node) {
      node.classList.add("sel");
      node.setAttribute("aria-selected", "true");
    }
  }
  const n = selection.to - selection.from + 1;
  plural("words_selected", n).then((text) => {
    if (status && selection.segment !== null) status.textContent = text;
  });
}

function onWordClick(event) {
  const node = event.target.closest(".w");
  if (!node || !editable()) return;
  if (event.shiftKey) {
    event.preventDefault();
    event.stopPropagation();
    const focusedNode = focused();
    const anchor = focusedNode && focusedNode.dataset.s === node.dataset.s ? focusedNode : node;
    selection.segment = Number(node.dataset.s);
    selection.anchor = Number(anchor.dataset.i);
    const index = Number(node.dataset.i);
    selection.from = Math.min(selection.anchor, index);
    selection.to = Math.max(selection.anchor, index);
    paintSelection();
    node.focus();
  } else if (selection.segment !== null) {
    clearSelection();
  }
}

// --- keys ------------------------------------------------------------------------------------------------

function onWordKey(event) {
  const node = event.target.closest && event.target.closest(".w");
  const time = event.target.closest && event.target.closest(".time");
  if (!editable() || event.target.matches("input, select, textarea")) return;
  if (time && event.altKey && (event.key === "ArrowLeft" || event.key === "ArrowRight")) {
    stop(event);
    nudgeTurn(time, event.shiftKey ? "end" : "start", event.key === "ArrowLeft" ? -NUDGE_S : NUDGE_S);
    return;
  }
  if (!node) return;
  const key = event.key;
  if (event.altKey && (key === "ArrowLeft" || key === "ArrowRight")) {
    stop(event);
    nudgeWord(node, event.shiftKey ? "end" : "start", key === "ArrowLeft" ? -NUDGE_S : NUDGE_S);
  } else if (event.shiftKey && !event.ctrlKey && (key === "ArrowLeft" || key === "ArrowRight")) {
    stop(event);
    extendSelection(node, key === "ArrowLeft" ? -1 : 1);
  } else if (event.ctrlKey || event.metaKey || event.altKey) {
    // page-wide shortcuts (undo, speed) go on
  } else if (key === "Escape" && selection.segment !== null) {
    stop(event);
    clearSelection();
  } else if ((key === "F2" || key === "e") && selection.segment !== null && selection.to > selection.from) {
    stop(event);
    editSpan();
  } else if (key === "Delete" || key === "Backspace") {
    stop(event);
    deleteSelection();
  } else if (key === "i" || key === "I") {
    stop(event);
    insertWords(key === "i");
  } else if (key === "s") {
    stop(event);
    splitHere();
  } else if (key === "m") {
    stop(event);
    mergeNext();
  } else if (key === "a") {
    stop(event);
    document.getElementById("give-selection")?.focus();
  } else if (key === "ArrowLeft" || key === "ArrowRight") {
    if (selection.segment !== null) clearSelection();
    showTimes(node, key === "ArrowLeft" ? -1 : 1);
  }
}

function stop(event) {
  event.preventDefault();
  event.stopPropagation();
}

function onPageKey(event) {
  const typing = event.target.matches && event.target.matches("input, textarea, select");
  if (!(event.ctrlKey || event.metaKey) || event.altKey) return;
  const key = event.key.toLowerCase();
  if (event.key === "ArrowUp" || event.key === "ArrowDown") {
    event.preventDefault();
    changeSpeed(event.key === "ArrowUp" ? 1 : -1);
  } else if (!typing && editable() && key === "z") {
    event.preventDefault();
    if (event.shiftKey) redo();
    else undo();
  } else if (!typing && editable() && key === "y") {
    event.preventDefault();
    redo();
  }
}

/** The next word's times, said in the status line (the page moves the focus itself). */
function showTimes(node, step) {
  requestAnimationFrame(() => {
    const now = focused() || node;
    const segment = segmentById(Number(now.dataset.s));
    const word = wordsOf(segment)[Number(now.dataset.i)];
    const status = document.getElementById("edit-status");
    if (word && status) status.textContent = t("word_times", { start: seconds(word.start), end: seconds(word.end) });
    return step;
  });
}

function seconds(value) {
  return Number(value).toFixed(2).replace(".", t("decimal"));
}

// --- recording -------------------------------------------------------------------------------------------

/**
 * Record operations (one undo step unless `step` is false); the rows, or null when refused (the reason
 * shown; a 409 reloads the transcript).
 */
async function record(operations, { step = true } = {}) {
  let body;
  try {
    body = await api(`/v1/jobs/${encodeURIComponent(ctx.jobId)}/corrections`, {
      method: "POST",
      json: { operations },
    });
  } catch (e) {
    notify(t("error", { error: e.message }), "error");
    if (e instanceof ApiError && e.status === 409) await ctx.reload();
    return null;
  }
  if (step) remember(body.edits);
  return body.edits;
}

/** Draw the transcript again and put the focus back on a word (or the nearest one). */
async function redraw(segmentId, index) {
  clearSelection();
  await ctx.reload();
  const node =
    wordNode(segmentId, index) ||
    wordNode(segmentId, Math.max(0, index - 1)) ||
    ctx.container.querySelector(`.w[data-s="${segmentId}"]`) ||
    ctx.container.querySelector(".w");
  node?.focus();
}

// --- operations ------------------------------------------------------------------------------------------

/** An input in place of words (`node`s); `save(text)` on Enter or when the field loses focus, Escape cancels. */
function inlineInput(anchor, { value, label, replace, save }) {
  const input = el("input", {
    type: "text",
    class: "span-input",
    value,
    maxlength: "2000",
    "aria-label": label,
    title: t("edit_help"),
    size: String(Math.max(8, value.length + 2)),
  });
  const hidden = replace || [];
  for (const node of hidden) node.hidden = true;
  anchor.after(input);
  editKeys(input, async (keep) => {
    const text = input.value.trim();
    input.remove();
    for (const node of hidden) node.hidden = false;
    if (!keep) {
      if (text !== value) notify(t("edit_cancelled"));
      anchor.focus();
      return;
    }
    await save(text);
  });
  input.focus();
  input.select();
}

/** Replace the selected words by what is typed (empty: they are deleted). */
function editSpan() {
  const found = target();
  if (!found) return;
  const { segment, from, to } = found;
  const nodes = [];
  for (let i = from; i <= to; i += 1) nodes.push(wordNode(segment.id, i));
  const before = wordsOf(segment)
    .slice(from, to + 1)
    .map(wordText)
    .join(" ");
  inlineInput(nodes[nodes.length - 1], {
    value: before,
    label: t("edit_span", { words: before }),
    replace: nodes,
    save: async (after) => {
      if (after === before) return;
      const op = { op: "span", segment_id: segment.id, word_index: from, word_count: to - from + 1, before, after };
      if (!(await record([op]))) return;
      notify(after ? t("span_saved") : await plural("words_deleted", to - from + 1));
      await redraw(segment.id, from);
    },
  });
}

/** Type words to insert after (or before) the focused word. */
function insertWords(after) {
  const node = focused() || (selection.segment !== null ? wordNode(selection.segment, selection.to) : null);
  if (!node) {
    notify(t("focus_a_word"), "info");
    return;
  }
  const segment = segmentById(Number(node.dataset.s));
  const index = Number(node.dataset.i) + (after ? 1 : 0);
  inlineInput(node, {
    value: "",
    label: t(after ? "insert_after" : "insert_before", { word: node.textContent }),
    save: async (text) => {
      if (!text) return;
      const op = { op: "span", segment_id: segment.id, word_index: index, word_count: 0, before: "", after: text };
      if (!(await record([op]))) return;
      notify(t("words_inserted"));
      await redraw(segment.id, index);
    },
  });
}

async function deleteSelection() {
  const found = target();
  if (!found) return;
  const { segment, from, to } = found;
  const before = wordsOf(segment)
    .slice(from, to + 1)
    .map(wordText)
    .join(" ");
  const op = { op: "span", segment_id: segment.id, word_index: from, word_count: to - from + 1, before, after: "" };
  if (!(await record([op]))) return;
  notify(await plural("words_deleted", to - from + 1));
  await redraw(segment.id, from);
}

/** Cut the turn before the focused word. */
async function splitHere() {
  const node = focused();
  if (!node) return notify(t("focus_a_word"), "info");
  const segment = segmentById(Number(node.dataset.s));
  const index = Number(node.dataset.i);
  if (index === 0) return notify(t("split_at_start"), "info");
  if (!(await record([{ op: "split", segment_id: segment.id, word_index: index, before: segment.text }]))) return;
  notify(t("turn_split"));
  await redraw(segment.id, index - 1);
}

/** Merge the focused word's turn with the next one. */
async function mergeNext() {
  const node = focused();
  if (!node) return notify(t("focus_a_word"), "info");
  const all = segments();
  const at = all.findIndex((s) => s.id === Number(node.dataset.s));
  if (at < 0 || at + 1 >= all.length) return notify(t("merge_last"), "info");
  const op = { op: "merge", segment_id: all[at].id, next_segment_id: all[at + 1].id };
  if (!(await record([op]))) return;
  notify(t("turn_merged"));
  await redraw(all[at].id, Number(node.dataset.i));
}

/** Give the selected words (or the focused one) to a speaker: their part of the turn becomes a turn. */
async function giveSelection(speaker) {
  const menu = document.getElementById("give-selection");
  const found = target() || lastTarget;
  menu.value = "";
  if (!found) return notify(t("focus_a_word"), "info");
  const { segment, from, to } = found;
  if (segment.speaker === speaker) return notify(t("same_speaker"), "info");
  const op = {
    op: "words_speaker",
    segment_id: segment.id,
    word_index: from,
    word_count: to - from + 1,
    before: segment.speaker || "",
    after: speaker,
  };
  if (!(await record([op]))) return;
  notify(t("selection_given", { name: ctx.speakerNames(ctx.state.doc).get(speaker) || speaker }));
  clearSelection();
  await ctx.reload();
}

let lastTarget = null; // what was selected when the focus went to the speaker menu
document.addEventListener("focusin", (event) => {
  if (event.target && event.target.id === "give-selection") lastTarget = target() || lastTarget;
  else if (event.target && event.target.closest && event.target.closest(".w")) lastTarget = null;
});

function rounded(value) {
  return Math.round(value * 1000) / 1000;
}

async function nudgeWord(node, edge, delta) {
  const segment = segmentById(Number(node.dataset.s));
  const index = Number(node.dataset.i);
  const word = wordsOf(segment)[index];
  if (!word) return;
  const before = [word.start, word.end];
  const after = edge === "start" ? [rounded(word.start + delta), word.end] : [word.start, rounded(word.end + delta)];
  const op = { op: "times", segment_id: segment.id, word_index: index, before, after };
  if (!(await record([op]))) return;
  await redraw(segment.id, index);
  const status = document.getElementById("edit-status");
  if (status) status.textContent = t("word_times", { start: seconds(after[0]), end: seconds(after[1]) });
}

/** A turn's start (its first segment's) or end (its last segment's) moved by `delta` seconds. */
async function nudgeTurn(button, edge, delta) {
  const section = button.closest(".turn");
  const ids = [...section.querySelectorAll(".seg[data-s]")].map((n) => Number(n.dataset.s));
  const segment = segmentById(edge === "start" ? ids[0] : ids[ids.length - 1]);
  if (!segment) return;
  const before = [segment.start, segment.end];
  const after =
    edge === "start" ? [rounded(segment.start + delta), segment.end] : [segment.start, rounded(segment.end + delta)];
  if (!(await record([{ op: "times", segment_id: segment.id, word_index: null, before, after }]))) return;
  clearSelection();
  await ctx.reload();
  const again = ctx.container.querySelector(`.seg[data-s="${segment.id}"]`)?.closest(".turn")?.querySelector(".time");
  again?.focus();
  const status = document.getElementById("edit-status");
  if (status) status.textContent = t("turn_times", { start: seconds(after[0]), end: seconds(after[1]) });
}

// --- undo / redo -----------------------------------------------------------------------------------------

async function revertGroup(ids) {
  return record(
    [...ids].reverse().map((id) => ({ op: "revert", edit_id: id })),
    { step: false },
  );
}

/** Undo the user's last change of this session: revert rows for its rows, newest first. */
export async function undo() {
  const group = history.undo.pop();
  updateUndoButtons();
  if (!group) return notify(t("nothing_to_undo"), "info");
  const rows = await revertGroup(group);
  if (!rows) {
    history.undo.push(group);
    updateUndoButtons();
    return;
  }
  history.redo.push(rows.map((r) => r.id));
  updateUndoButtons();
  notify(t("undone"));
  clearSelection();
  await ctx.reload();
}

/** Redo what was undone: a revert of each revert row. */
export async function redo() {
  const group = history.redo.pop();
  updateUndoButtons();
  if (!group) return notify(t("nothing_to_redo"), "info");
  const rows = await revertGroup(group);
  if (!rows) {
    history.redo.push(group);
    updateUndoButtons();
    return;
  }
  history.undo.push(rows.map((r) => r.id));
  updateUndoButtons();
  notify(t("redone"));
  clearSelection();
  await ctx.reload();
}

/** Revert any row of the history (one more row; a refusal says which later correction needs it). */
export async function revertRow(id, message) {
  const rows = await record([{ op: "revert", edit_id: id }]);
  if (!rows) return false;
  notify(message); // said at once: drawing the transcript again follows
  clearSelection();
  await ctx.reload();
  return true;
}

// --- re-translation --------------------------------------------------------------------------------------

function addRetranslateButtons() {
  if (!editable()) return;
  for (const block of ctx.container.querySelectorAll(".seg.two[data-s]")) {
    const segment = segmentById(Number(block.dataset.s));
    const tr = block.querySelector(".tr");
    if (!segment || !segment.translation || !tr || tr.querySelector(".retranslate")) continue;
    tr.append(
      " ",
      el("button", {
        type: "button",
        class: "secondary small retranslate",
        text: t("retranslate"),
        "aria-label": t("retranslate_label", { s: segment.id }),
        onclick: () => retranslate(segment),
      }),
    );
  }
}

async function retranslate(segment) {
  notify(t("retranslating"), "info");
  let body;
  try {
    body = await api(`/v1/jobs/${encodeURIComponent(ctx.jobId)}/segments/${segment.id}/retranslate`, {
      method: "POST",
      json: { before: segment.translation.text || "" },
    });
  } catch (e) {
    notify(t("error", { error: e.message }), "error");
    if (e instanceof ApiError && e.status === 409) await ctx.reload();
    return;
  }
  remember(body.edits);
  await ctx.reload();
  notify(t("retranslated"));
}
