// The transcript page: player synced with the words, corrections, speaker names, history, exports, custody.
import { ApiError, api, bytes, clock, dateTime, editKeys, el, initPage, notify, plural, requireSignIn, statusText } from "./app.js";
import { decorate, initEditor, remember, revertRow } from "./editor.js";
import { t } from "./i18n.js";
import { initMarks, markText } from "./marks.js";

const LOW_CONFIDENCE = 0.5;
const SKIP_S = 5;
const POLL_MS = 1500;

const jobId = decodeURIComponent(window.location.pathname.split("/").filter(Boolean).pop() || "");
const audio = document.getElementById("audio");
const container = document.getElementById("transcript");

const state = {
  job: null,
  doc: null,
  view: "original",
  pseudoOnly: false,
  words: [], // {el, start, end, segment, index}, in time order
  current: null,
  ticketAt: 0,
};

// --- loading -----------------------------------------------------------------------------------------

async function loadJob() {
  for (;;) {
    const job = await api(`/v1/jobs/${encodeURIComponent(jobId)}`);
    state.job = job;
    showMeta(job);
    if (job.status === "succeeded") return job;
    const pending = document.getElementById("pending");
    pending.hidden = false;
    const pct = Math.round((job.progress || 0) * 100);
    document.getElementById("pending-progress").value = pct;
    if (job.status === "failed") {
      document.getElementById("pending-label").textContent = t("failed", { error: job.error || "" });
      return null;
    }
    document.getElementById("pending-label").textContent = t("job_progress", {
      status: statusText(job.status, job.stage),
      pct,
    });
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

function showMeta(job) {
  document.getElementById("job-title").textContent = job.filename || t("transcript");
  document.title = `${job.filename || t("transcript")} · verbatim`;
  const parts = [
    statusText(job.status),
    job.language ? `${t("language")} : ${job.language}` : null,
    job.duration ? `${t("duration")} : ${clock(job.duration)}` : null,
    `${t("created")} ${dateTime(job.created_at)}`,
  ];
  document.getElementById("job-meta").textContent = parts.filter(Boolean).join(" · ");
  // A damaged recording (truncated...) is said above the transcript, as in the DOCX header.
  const warnings = document.getElementById("job-warnings");
  const messages = (job.warnings || []).map((w) => w.message).filter(Boolean);
  warnings.textContent = messages.join(" ");
  warnings.hidden = messages.length === 0;
}

function transcriptUrl(format, view) {
  const base = `/v1/jobs/${encodeURIComponent(jobId)}/transcript?format=${format}`;
  return view === "pseudonymized" ? `${base}&view=pseudonymized` : base;
}

/** The transcript JSON of a view; `null` when the API does not offer that view (400/422: not deployed). */
async function fetchDoc(view) {
  try {
    const doc = await api(transcriptUrl("json", view));
    // A server without the pseudonymised view ignores the parameter and answers the original: only a
    // document that says it is pseudonymised is shown (and exported) as such.
    if (view === "pseudonymized" && !doc.pseudonymization) return null;
    return doc;
  } catch (e) {
    if (e instanceof ApiError && view === "pseudonymized" && [400, 404, 409, 422].includes(e.status)) {
      return null;
    }
    throw e;
  }
}

function pseudonymizedOnly() {
  state.pseudoOnly = true;
  state.view = "pseudonymized";
  const select = document.getElementById("view");
  select.value = "pseudonymized";
  select.querySelector('option[value="original"]').disabled = true;
  notify(t("pseudo_only"), "info");
}

async function loadDoc() {
  if (state.pseudoOnly) {
    const doc = await fetchDoc("pseudonymized");
    if (doc) return doc;
    throw new Error(t("view_unavailable"));
  }
  if (state.view === "pseudonymized") {
    const doc = await fetchDoc("pseudonymized");
    if (doc) return doc;
    notify(t("view_unavailable"), "info");
    state.view = "original";
    document.getElementById("view").value = "original";
  }
  try {
    return await fetchDoc("original");
  } catch (e) {
    // A role that may only see the pseudonymised copy is refused the original (403).
    if (e instanceof ApiError && e.status === 403) {
      const doc = await fetchDoc("pseudonymized");
      if (doc) {
        pseudonymizedOnly();
        return doc;
      }
    }
    throw e;
  }
}

// --- rendering ---------------------------------------------------------------------------------------

function speakerNames(doc) {
  const names = new Map();
  for (const s of doc.speakers || []) names.set(String(s.id), s.name || String(s.id));
  for (const seg of doc.segments || []) {
    if (seg.speaker && !names.has(seg.speaker)) names.set(seg.speaker, seg.speaker);
  }
  return names;
}

function turns(segments) {
  const groups = [];
  for (const seg of segments) {
    const last = groups[groups.length - 1];
    if (last && seg.speaker && last.speaker === seg.speaker) last.segments.push(seg);
    else groups.push({ speaker: seg.speaker || null, start: seg.start, segments: [seg] });
  }
  return groups;
}

function wordSpan(seg, word, index) {
  const classes = ["w"];
  let title = null;
  if (typeof word.probability === "number" && word.probability < LOW_CONFIDENCE) {
    classes.push("low");
    title = t("low_title", { pct: Math.round(word.probability * 100) });
  }
  return el("span", {
    class: classes.join(" "),
    tabindex: "-1",
    title,
    dataset: { s: String(seg.id), i: String(index), start: String(word.start) },
    text: word.text.trim(),
  });
}

function segmentBlock(seg, translated) {
  const words = (seg.words || []).length
    ? // a word glued to the previous one ("join": "", as in d'accord, États-Unis) gets no space before it;
      // documents written before "join" existed have every word apart
      seg.words.flatMap((w, i) => [...(i && w.join !== "" ? [" "] : []), wordSpan(seg, w, i)])
    : [el("span", { text: seg.text })];
  const original = el("p", { class: "orig", lang: seg.language || state.doc.language }, ...words);
  if (!translated) return el("div", { class: "seg", dataset: { s: String(seg.id) } }, original);
  const tr = seg.translation;
  // A translation made before a correction of its original is kept, and said to be so.
  const outdated = Boolean(tr && tr.outdated);
  const translation = el(
    "p",
    { class: outdated ? "tr outdated" : "tr", lang: tr ? tr.language : null, text: tr ? tr.text : "" },
    outdated ? el("span", { class: "note", lang: document.documentElement.lang, text: ` (${t("tr_outdated")})` }) : null,
  );
  return el("div", { class: "seg two", dataset: { s: String(seg.id) } }, original, translation);
}

function render() {
  const doc = state.doc;
  const names = speakerNames(doc);
  const translated = (doc.segments || []).some((s) => s.translation && s.translation.text);
  const blocks = [];
  if (translated) {
    const target = doc.segments.find((s) => s.translation)?.translation.language || "";
    blocks.push(
      el(
        "div",
        { class: "seg two heads", "aria-hidden": "true" },
        el("p", { class: "orig", text: t("original_col", { lang: doc.language }) }),
        el("p", { class: "tr", text: t("translation_col", { lang: target }) }),
      ),
    );
  }
  for (const turn of turns(doc.segments || [])) {
    const head = el(
      "h3",
      { class: "turn-head" },
      turn.speaker
        ? el("span", { class: "speaker", dataset: { speaker: turn.speaker }, text: names.get(turn.speaker) })
        : null,
      el("button", {
        type: "button",
        class: "time link",
        dataset: { start: String(turn.start) },
        text: clock(turn.start),
      }),
      reassignSelect(turn, names),
    );
    blocks.push(el("section", { class: "turn" }, head, ...turn.segments.map((s) => segmentBlock(s, translated))));
  }
  container.replaceChildren(...blocks);
  container.classList.toggle("read-only", state.view !== "original");
  state.words = [...container.querySelectorAll(".w")].map((node) => ({
    el: node,
    start: Number(node.dataset.start),
  }));
  state.words.sort((a, b) => a.start - b.start);
  state.current = null;
  const low = container.querySelectorAll(".w.low").length;
  document.getElementById("low-count").textContent = low ? t("low_conf", { n: low }) : "";
  const note = document.getElementById("mode-note");
  note.hidden = state.view === "original";
  note.textContent = state.view === "original" ? "" : t("read_only");
  // Read only: only the playback shortcuts are said (no correction).
  document.getElementById("shortcuts").textContent = t(state.view === "original" ? "shortcuts" : "shortcuts_read");
  document.getElementById("speakers-help").hidden = state.view !== "original";
  renderSpeakers(names);
  decorate(); // the editor's selection, re-translate buttons and toolbar (editor.js)
}

/** A turn's "give to another speaker" menu (the original view only, with two speakers or more). */
function reassignSelect(turn, names) {
  if (state.view !== "original" || !turn.speaker || names.size < 2) return null;
  const select = el(
    "select",
    { class: "reassign", "aria-label": t("reassign_label", { name: names.get(turn.speaker), time: clock(turn.start) }) },
    el("option", { value: "", text: t("reassign") }),
    ...[...names.entries()]
      .filter(([id]) => id !== turn.speaker)
      .map(([id, name]) => el("option", { value: id, text: name })),
  );
  select.addEventListener("change", () => {
    if (select.value) reassignTurn(turn, select.value, names);
  });
  return select;
}

/** Give every segment of a turn to another speaker: one correction row per segment, in the history. */
async function reassignTurn(turn, speaker, names) {
  const edits = turn.segments.map((s) => ({ segment_id: s.id, before: s.speaker, after: speaker }));
  if (!(await postEdits("segment-speakers", edits))) return;
  notify(t("reassigned", { name: names.get(speaker) }));
  await refresh();
  await Promise.all([loadHistory(), loadCustody(false)]);
}

function renderSpeakers(names) {
  const form = document.getElementById("speakers-form");
  if (!names.size) {
    form.replaceChildren(el("p", { class: "muted", text: t("no_speakers") }));
    return;
  }
  const editable = state.view === "original";
  if (!editable) {
    // Read only: the names as text, no field nor button that cannot be used.
    form.replaceChildren(
      el(
        "ul",
        { class: "speaker-names" },
        ...[...names.entries()].map(([id, name]) => el("li", {}, el("strong", { text: name || id }))),
      ),
    );
    return;
  }
  const fields = [...names.entries()].map(([id, name]) =>
    el(
      "div",
      { class: "field" },
      el("label", { for: `speaker-${id}`, text: t("speaker_name", { id }) }),
      el("input", {
        id: `speaker-${id}`,
        name: id,
        value: name,
        maxlength: "64",
        required: true,
        disabled: !editable,
        dataset: { speaker: id },
      }),
    ),
  );
  form.replaceChildren(
    ...fields,
    el("button", { type: "submit", id: "save-speakers", disabled: !editable, text: t("save_names") }),
  );
}

// --- playback ----------------------------------------------------------------------------------------

async function attachAudio() {
  const at = audio.currentTime || 0;
  let ticket;
  try {
    ticket = await api(`/v1/jobs/${encodeURIComponent(jobId)}/audio-ticket`, { method: "POST" });
  } catch (e) {
    // A shared copy made without a released recording: the transcript is readable, nothing to hear.
    if (e instanceof ApiError && e.status === 404 && state.pseudoOnly) {
      audio.hidden = true;
      notify(t("audio_unavailable"), "info");
      return;
    }
    throw e;
  }
  state.ticketAt = Date.now();
  audio.dataset.released = ticket.pseudonymized ? "true" : "false";
  audio.src = ticket.url;
  if (at) audio.currentTime = at;
}

function playFrom(seconds) {
  audio.currentTime = Math.max(0, seconds);
  const playing = audio.play();
  if (playing) playing.catch(() => {}); // refused autoplay: the position is set, the user presses play
}

function togglePlay() {
  if (audio.paused) playFrom(audio.currentTime);
  else audio.pause();
}

function skip(delta) {
  const end = Number.isFinite(audio.duration) ? audio.duration : Infinity;
  audio.currentTime = Math.min(end, Math.max(0, audio.currentTime + delta));
}

function wordAt(time) {
  const words = state.words;
  let lo = 0;
  let hi = words.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (words[mid].start <= time) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found >= 0 ? words[found].el : null;
}

function highlight() {
  const node = wordAt(audio.currentTime + 0.01);
  if (node === state.current) return;
  if (state.current) {
    state.current.classList.remove("current");
    state.current.removeAttribute("aria-current");
  }
  state.current = node;
  if (!node) return;
  node.classList.add("current");
  node.setAttribute("aria-current", "true");
  if (document.getElementById("follow-playback").checked && !audio.paused && !container.contains(document.activeElement)) {
    node.scrollIntoView({ block: "nearest" });
  }
}

function tick() {
  highlight();
  if (!audio.paused) requestAnimationFrame(tick);
}

// --- corrections -------------------------------------------------------------------------------------

function editWord(span) {
  if (state.view !== "original" || span.querySelector("input")) return;
  const before = span.textContent;
  const input = el("input", {
    type: "text",
    class: "word-input",
    value: before,
    maxlength: "200",
    "aria-label": t("edit_word", { word: before }),
    title: t("edit_help"),
    size: String(Math.max(4, before.length + 2)),
  });
  // Leaving the field keeps what was typed (saved, as Enter does): only Escape cancels, and says so.
  editKeys(input, async (save) => {
    const after = input.value.trim();
    span.textContent = before;
    span.focus();
    if (!save && after && after !== before) notify(t("edit_cancelled"));
    if (!save || !after || after === before) return;
    if (!(await postWordEdit(Number(span.dataset.s), Number(span.dataset.i), before, after))) return;
    span.textContent = after;
    span.classList.add("edited");
    span.classList.remove("low");
    span.title = t("edited_title");
    notify(t("saved"));
    await Promise.all([loadHistory(), loadCustody(false)]);
  });
  span.replaceChildren(input);
  input.focus();
  input.select();
}

async function saveSpeakers(event) {
  event.preventDefault();
  const names = {};
  for (const input of event.target.querySelectorAll("input[data-speaker]")) {
    names[input.dataset.speaker] = input.value.trim();
  }
  try {
    const body = await api(`/v1/jobs/${encodeURIComponent(jobId)}/speakers`, { method: "PUT", json: { names } });
    const byId = new Map(body.speakers.map((s) => [s.id, s.name]));
    for (const node of container.querySelectorAll(".speaker")) {
      if (byId.has(node.dataset.speaker)) node.textContent = byId.get(node.dataset.speaker);
    }
    state.doc.speakers = body.speakers;
    remember(body.edits);
  } catch (e) {
    notify(t("error", { error: e.message }), "error");
    return;
  }
  notify(t("names_saved"));
  await Promise.all([loadHistory(), loadCustody(false)]);
}

/** What a history row changed, in words: where, and the kind of change. */
function whereText(e) {
  if (e.kind === "speaker") return t("where_speaker", { id: e.speaker });
  if (e.kind === "segment_speaker") return t("where_segment", { s: e.segment_id });
  if (e.kind === "word") return t("where_word", { s: e.segment_id, w: e.word_index });
  if (e.kind === "revert") return t("where_revert", { id: e.reverts });
  return t(`where_${e.kind}`, { s: e.segment_id, w: e.word_index, n: e.word_count, other: e.other_segment_id });
}

async function loadHistory() {
  const target = document.getElementById("history");
  const body = await api(`/v1/jobs/${encodeURIComponent(jobId)}/edits`);
  const count = document.getElementById("history-count");
  if (count) count.textContent = await plural("corrections_count", body.edits.length);
  if (!body.edits.length) {
    target.replaceChildren(el("p", { class: "muted", text: t("history_empty") }));
    return;
  }
  // Newest first; each entry: before → after, then who, when and where. A segment's speaker by its name.
  const names = state.doc ? speakerNames(state.doc) : new Map();
  const speakerValue = (e) => e.kind === "segment_speaker" || (e.kind === "revert" && e.speaker && !e.word_index && names.has(e.before));
  const shown = (e, value) => (speakerValue(e) ? names.get(value) || value : value || "∅");
  const items = [...body.edits].reverse().map((e) =>
    el(
      "li",
      { dataset: { kind: e.kind, id: String(e.id) }, class: e.reverted ? "reverted" : null },
      el(
        "p",
        { class: "change" },
        el("del", { text: shown(e, e.before) }),
        el("span", { "aria-hidden": "true", text: " → " }),
        el("ins", { text: e.kind === "mark" || e.kind === "unmark" ? markText(`history_${e.kind}`) : shown(e, e.after) }),
      ),
      el(
        "p",
        { class: "meta" },
        `${e.user_name || ""} · `,
        el("time", { datetime: e.at, text: dateTime(e.at) }),
        ` · ${whereText(e)}`,
        e.reverted ? el("strong", { class: "undone", text: ` · ${t("row_reverted")}` }) : null,
      ),
      e.reverted || e.kind === "mark" || e.kind === "unmark" || state.view !== "original"
        ? null
        : el("button", {
            type: "button",
            class: "secondary small revert",
            text: e.kind === "word" || e.kind === "segment_speaker" ? t("revert", { word: shown(e, e.before) }) : t("revert_row"),
            "aria-label":
              e.kind === "segment_speaker"
                ? t("revert_segment_label", { word: shown(e, e.before), s: e.segment_id })
                : e.kind === "word"
                  ? t("revert_label", { word: e.before, s: e.segment_id, w: e.word_index })
                  : t("revert_row_label", { where: whereText(e) }),
            onclick: () => revertEdit(e),
          }),
    ),
  );
  target.replaceChildren(el("ol", { id: "history-table", class: "history" }, ...items));
}

/**
 * Record one word correction (a row of the history); false, with the reason shown, when it was refused (a
 * 409: someone changed the text meanwhile, the page is reloaded).
 */
async function postWordEdit(segmentId, wordIndex, before, after) {
  return postEdits("edits", [{ segment_id: segmentId, word_index: wordIndex, before, after }]);
}

/** POST corrections to one of the job's edit routes (`edits`, `segment-speakers`); false when refused. */
async function postEdits(route, edits) {
  try {
    const body = await api(`/v1/jobs/${encodeURIComponent(jobId)}/${route}`, { method: "POST", json: { edits } });
    remember(body.edits); // one undo step (editor.js)
  } catch (e) {
    if (e instanceof ApiError && e.status === 409) {
      notify(t("conflict"), "error");
      await refresh();
      return false;
    }
    notify(t("error", { error: e.message }), "error");
    return false;
  }
  return true;
}

/**
 * Cancel a correction of the history: one more correction row (a revert, who, when), replayed like every
 * other; the row reverted stays in the history, marked so. Refused (409) when a later correction needs it.
 */
async function revertEdit(e) {
  const names = speakerNames(state.doc);
  const word = e.kind === "segment_speaker" ? names.get(e.before) || e.before : e.before;
  await revertRow(e.id, e.kind === "word" || e.kind === "segment_speaker" ? t("reverted", { word }) : t("row_reverted_done"));
}

// --- sharing (owning unit) ---------------------------------------------------------------------------

const sharesUrl = () => `/v1/jobs/${encodeURIComponent(jobId)}/shares`;

async function loadShares() {
  const body = await api(sharesUrl());
  const list = document.getElementById("share-list");
  if (!body.shares.length) {
    list.replaceChildren(el("li", { class: "muted", text: t("share_none") }));
    return;
  }
  list.replaceChildren(
    ...body.shares.map((share) =>
      el(
        "li",
        { dataset: { unit: share.unit } },
        el("span", { text: t("shared_with", { unit: share.unit, date: dateTime(share.created_at) }) }),
        " ",
        el("button", {
          type: "button",
          class: "secondary small",
          "aria-label": t("share_revoke_label", { unit: share.unit }),
          text: t("share_revoke"),
          onclick: () => revokeShare(share.unit),
        }),
      ),
    ),
  );
}

async function shareWith(event) {
  event.preventDefault();
  const field = document.getElementById("share-unit");
  const unit = field.value.trim();
  if (!unit) return;
  try {
    await api(sharesUrl(), { method: "POST", json: { unit } });
  } catch (e) {
    notify(t("error", { error: e.message }), "error");
    return;
  }
  field.value = "";
  notify(t("shared_done", { unit }), "info");
  await loadShares();
}

async function revokeShare(unit) {
  try {
    await api(`${sharesUrl()}/${encodeURIComponent(unit)}`, { method: "DELETE" });
  } catch (e) {
    notify(t("error", { error: e.message }), "error");
    return;
  }
  notify(t("share_revoked", { unit }), "info");
  await loadShares();
}

// --- custody and exports -----------------------------------------------------------------------------

function hashCell(value, verified) {
  const mark =
    verified === true
      ? el("span", { class: "ok", text: ` ✓ ${t("verified_ok")}` })
      : verified === false
        ? el("span", { class: "bad", text: ` ✗ ${t("verified_bad")}` })
        : null;
  return el("td", {}, el("code", { class: "hash", text: value || "" }), mark);
}

/** The page's label of an internal name (`kind_transcript`), `fallback` (default: the name) when none. */
function label(prefix, name, fallback = name) {
  const text = t(`${prefix}${name}`);
  return text === `${prefix}${name}` ? fallback : text;
}

async function loadCustody(verify) {
  const m = await api(`/v1/jobs/${encodeURIComponent(jobId)}/custody${verify ? "?verify=true" : ""}`);
  const artifacts = m.artifacts.map((a) =>
    el(
      "tr",
      { dataset: { kind: a.kind } },
      el("td", { text: label("kind_", a.kind) }),
      hashCell(a.sha256, a.verified),
      el("td", { text: bytes(a.size) }),
    ),
  );
  // "translation:nllb:translate" -> "Traduction automatique : nllb" (what it does, then the model's name).
  const models = Object.entries(m.models || {}).map(([key, info]) =>
    el(
      "li",
      {},
      el("strong", { text: `${label("model_", key.split(":")[0], t("model_other"))} : ` }),
      `${(info && info.name) || key.split(":")[1] || ""}`,
    ),
  );
  document.getElementById("custody").replaceChildren(
    el("h3", { text: t("custody_original") }),
    el(
      "table",
      { class: "custody" },
      el("tbody", {}, el("tr", { dataset: { kind: "original" } }, el("td", { text: bytes(m.original.size) }), hashCell(m.original.sha256, m.original.verified))),
    ),
    el("h3", { text: t("custody_artifacts") }),
    el(
      "table",
      { class: "custody", id: "custody-artifacts" },
      el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "" }), el("th", { scope: "col", text: t("sha256") }), el("th", { scope: "col", text: t("size") }))),
      el("tbody", {}, ...artifacts),
    ),
    el("h3", { text: t("custody_models") }),
    el("ul", { class: "models" }, ...models),
  );
}

function filenameOf(response, fallback) {
  // The server names the file <recording>_<date>[_pseudonymise].<ext>: the UTF-8 filename* first.
  const header = response.headers.get("Content-Disposition") || "";
  const utf8 = /filename\*=UTF-8''([^;]+)/i.exec(header);
  if (utf8) {
    try {
      return decodeURIComponent(utf8[1]);
    } catch {
      // fall through to the ASCII name
    }
  }
  const match = /filename="?([^";]+)"?/.exec(header);
  return match ? match[1] : fallback;
}

async function exportTranscript() {
  const format = document.getElementById("format").value;
  const view = state.view;
  let response;
  try {
    response = await api(transcriptUrl(format, view), { raw: true });
  } catch (e) {
    notify(t("error", { error: e.message }), "error");
    return;
  }
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const suffix = view === "pseudonymized" ? "_pseudonymise" : "";
  const link = el("a", { href: url, download: filenameOf(response, `transcription${suffix}.${format}`) });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// --- events ------------------------------------------------------------------------------------------

function moveFocus(from, step) {
  const all = [...container.querySelectorAll(".w")];
  const index = all.indexOf(from);
  const next = all[Math.min(all.length - 1, Math.max(0, index + step))];
  if (next) next.focus();
}

function bindEvents() {
  initEditor({ jobId, state, container, audio, speakerNames, reload });
  container.addEventListener("click", (event) => {
    const word = event.target.closest(".w");
    if (word && !word.querySelector("input")) {
      playFrom(Number(word.dataset.start));
      return;
    }
    const time = event.target.closest(".time");
    if (time) playFrom(Number(time.dataset.start));
  });
  container.addEventListener("dblclick", (event) => {
    const word = event.target.closest(".w");
    if (word) editWord(word);
  });
  container.addEventListener("keydown", (event) => {
    const word = event.target.closest && event.target.closest(".w");
    if (!word) {
      if (event.target === container && ["ArrowRight", "ArrowDown", "Enter"].includes(event.key)) {
        event.preventDefault();
        (state.current || container.querySelector(".w"))?.focus();
      }
      return;
    }
    if (event.key === "ArrowRight" && !event.shiftKey) {
      event.preventDefault();
      moveFocus(word, 1);
    } else if (event.key === "ArrowLeft" && !event.shiftKey) {
      event.preventDefault();
      moveFocus(word, -1);
    } else if (event.key === "Enter") {
      event.preventDefault();
      playFrom(Number(word.dataset.start));
    } else if (event.key === "F2" || event.key === "e") {
      event.preventDefault();
      editWord(word);
    }
  });
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    const typing = target.matches && target.matches("input, select, textarea, button, summary, a, audio");
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key;
    if (key === " " || key === "k" || key === "K") {
      event.preventDefault();
      togglePlay();
    } else if (key === "j" || key === "J" || (key === "ArrowLeft" && event.shiftKey)) {
      event.preventDefault();
      skip(-SKIP_S);
    } else if (key === "l" || key === "L" || (key === "ArrowRight" && event.shiftKey)) {
      event.preventDefault();
      skip(SKIP_S);
    }
  });
  audio.addEventListener("play", () => requestAnimationFrame(tick));
  audio.addEventListener("seeked", highlight);
  audio.addEventListener("timeupdate", highlight);
  audio.addEventListener("error", () => {
    // An expired audio ticket: ask for another (at most once a minute, so a broken file does not loop).
    if (Date.now() - state.ticketAt > 60000) attachAudio().catch(() => {});
  });
  document.getElementById("speakers-form").addEventListener("submit", saveSpeakers);
  document.getElementById("share-form").addEventListener("submit", shareWith);
  document.getElementById("export").addEventListener("click", exportTranscript);
  document.getElementById("verify").addEventListener("click", () =>
    loadCustody(true).catch((e) => notify(t("error", { error: e.message }), "error")),
  );
  document.getElementById("view").addEventListener("change", async (event) => {
    state.view = event.target.value;
    await refresh();
  });
}

async function refresh() {
  state.doc = await loadDoc();
  render();
}

/** After a correction: the transcript, its history and the custody manifest drawn again. */
async function reload() {
  await refresh();
  await Promise.all([loadHistory(), loadCustody(false)]);
}

async function main() {
  initPage();
  if (!requireSignIn()) return;
  bindEvents();
  let job;
  try {
    job = await loadJob();
  } catch (e) {
    const message = e instanceof ApiError && e.status === 404 ? t("not_found") : t("error", { error: e.message });
    notify(message, "error");
    document.getElementById("job-title").textContent = t("not_found");
    return;
  }
  if (!job) return;
  // Shared with this unit by another one: the pseudonymised copy and the released recording only.
  if (job.access === "shared") pseudonymizedOnly();
  document.getElementById("pending").hidden = true;
  document.getElementById("workspace").hidden = false;
  await refresh();
  // The history holds the original words: not shown to someone who may only see the pseudonymised copy.
  document.getElementById("history-title").closest("section").hidden = state.pseudoOnly;
  // Marking spans by hand for the pseudonymised copies (marks.js), in the original view of the owning unit.
  const marks = initMarks({
    jobId,
    container,
    place: document.querySelector(".side"),
    doc: () => state.doc,
    editable: () => !state.pseudoOnly && state.view === "original",
    after: async () => {
      await refresh();
      await Promise.all([loadHistory(), loadCustody(false)]);
    },
  });
  document.getElementById("view").addEventListener("change", () => marks.update());
  // Sharing is the owning unit's decision: not shown to a unit that reads a shared copy.
  document.getElementById("sharing").hidden = state.pseudoOnly;
  await Promise.all([
    attachAudio(),
    state.pseudoOnly ? null : loadHistory(),
    state.pseudoOnly ? null : loadShares(),
    loadCustody(false),
  ]);
  document.body.dataset.ready = "true";
}

main().catch((e) => notify(t("error", { error: e.message }), "error"));
