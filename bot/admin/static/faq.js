// Admin console, FAQ view: the city's FAQ by category with search and freshness, one entry's editor
// (check → save through the catalog checker; problems shown next to their fields), and the import of a
// city's CSV/JSON export (preview of what changes → apply). Texts from the server go in with textContent.
"use strict";
(function () {
  const A = window.madoguchiAdmin;
  const { $, el, api, send, act, say, showAlert, explain, views } = A;
  const LANGUAGES = [["ja", "日本語", "ja"], ["en", "English", "en"], ["easy", "やさしい日本語", "ja"]];
  const MAPPING = [["question", "質問の列"], ["answer", "回答の列"], ["category", "カテゴリの列"], ["section", "担当課の列"],
    ["url", "URLの列"], ["updated", "更新日の列"], ["id", "IDの列"], ["variants", "言い換えの列"]];
  let listing = null, entry = null, upload = null;

  // --- list ------------------------------------------------------------------------------------
  views.faq = async () => {
    listing = await api("/faq");
    $("faq-summary").textContent = "全" + listing.count + "件。更新日から" + listing.stale_after_days + "日を過ぎたもの（"
      + listing.stale + "件）は「要確認」と表示します。今日：" + listing.today;
    const section = $("faq-import-section");
    if (!section.options.length) {
      section.append(el("option", { value: "", text: "（指定しない）" }));
      for (const [id, name] of Object.entries(listing.sections)) section.append(el("option", { value: id, text: name + "（" + id + "）" }));
    }
    if (!$("faq-mapping").children.length) {
      for (const [key, label] of MAPPING) {
        $("faq-mapping").append(el("div", {}, el("label", { for: "faq-map-" + key, text: label }),
          el("input", { id: "faq-map-" + key, "data-field": key, autocomplete: "off" })));
      }
    }
    renderList();
  };

  function renderList() {
    const words = $("faq-search").value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    const staleOnly = $("faq-stale-only").checked;
    const root = $("faq-list"); root.replaceChildren();
    let shown = 0;
    for (const category of listing.categories) {
      const rows = category.entries.filter((e) => (!staleOnly || e.stale) && words.every((w) =>
        (e.question + " " + e.id + " " + e.section_name + " " + category.title).toLowerCase().includes(w)));
      if (!rows.length) continue;
      shown += rows.length;
      const body = el("tbody");
      for (const e of rows) {
        body.append(el("tr", {}, el("td", { text: e.question }), el("td", { text: e.section_name }),
          el("td", {}, el("span", { text: e.updated }), e.stale ? el("span", { class: "badge", text: " 要確認（" + e.days_old + "日前）" }) : ""),
          el("td", {}, el("button", { type: "button", text: "編集する", "aria-label": e.question + "を編集する",
            onclick: () => act(() => openEntry(e.id)) }))));
      }
      const table = el("table", {}, el("caption", { text: category.title + "（" + rows.length + "件）" }),
        el("thead", {}, el("tr", {}, ...["質問", "担当課", "更新日", "操作"].map((h) => el("th", { scope: "col", text: h })))), body);
      root.append(el("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": category.title }, table));
    }
    $("faq-count").textContent = shown + "件を表示しています。";
  }

  // --- one entry ---------------------------------------------------------------------------------
  const slotId = (key) => "faq-error-" + key.replace(/[^a-z0-9]/gi, "-");
  function field(key, label, input, lang) {
    input.id = "faq-field-" + key.replace(/[^a-z0-9]/gi, "-");
    input.dataset.key = key;
    if (lang) input.setAttribute("lang", lang);
    return el("div", {}, el("label", { for: input.id, text: label }), input,
      el("p", { id: slotId(key), class: "field-error", hidden: true }));
  }

  async function openEntry(id) {
    entry = await api("/faq/" + encodeURIComponent(id));
    renderForm(entry.data, null);
    $("faq-editor-title").textContent = "FAQを編集：" + entry.id;
    $("faq-editor").hidden = false;
    $("faq-editor").focus();
  }

  // A new entry from a group of the missed-questions inbox: its questions become the question and
  // the variants, its routed section the section; saving creates the entry and empties the group.
  async function newEntryFromMissed(group) {
    await A.openView("faq", false);
    const texts = group.texts.map((t) => t.text);
    const today = listing.today;
    entry = { id: null, missed: texts };
    renderForm({ question: { ja: texts[0] }, answer: {}, variants: { ja: texts.slice(1), en: [] },
      section: group.suggested_section || "", url: "", updated: today, procedure: null }, group);
    $("faq-editor-title").textContent = "聞き取れなかった質問からFAQを作る";
    $("faq-editor").hidden = false;
    $("faq-editor").focus();
  }
  A.newEntryFromMissed = newEntryFromMissed;

  function renderForm(data, fromMissed) {
    const root = $("faq-fields"); root.replaceChildren();
    if (fromMissed) {
      const category = el("select");
      for (const c of listing.categories) category.append(el("option", { value: c.id, text: c.title + "（" + c.id + "）" }));
      const section = fromMissed.suggested_section;
      const usual = listing.categories.find((c) => c.entries.some((e) => e.section === section));
      if (usual) category.value = usual.id;
      root.append(field("category", "カテゴリ", category));
      const id = el("input", { autocomplete: "off", spellcheck: "false" });
      root.append(field("id", "ID（半角英小文字・数字・_。例：garbage_mattress）", id));
    }
    for (const [key, label] of [["question", "質問"], ["answer", "回答"]]) {
      const group = el("fieldset", {}, el("legend", { text: label }));
      for (const [language, name, lang] of LANGUAGES) {
        const area = el("textarea", { rows: key === "answer" ? "6" : "2" });
        area.value = data[key][language] || "";
        group.append(field(key + "." + language, name + (language === "ja" ? "（必須）" : "（任意）"), area, lang));
      }
      root.append(group);
    }
    const variants = el("fieldset", {}, el("legend", { text: "言い換え（住民の聞き方。1行に1つ）" }));
    for (const [language, name, lang] of LANGUAGES.slice(0, 2)) {
      const area = el("textarea", { rows: "4" }); area.value = (data.variants[language] || []).join("\n");
      variants.append(field("variants." + language, name, area, lang));
    }
    root.append(variants);
    const section = el("select");
    if (!data.section) section.append(el("option", { value: "", text: "（選んでください）" }));
    for (const [cid, name] of Object.entries(listing.sections)) section.append(el("option", { value: cid, text: name + "（" + cid + "）" }));
    section.value = data.section;
    root.append(field("section", "担当課", section));
    const url = el("input", { type: "url", autocomplete: "off" }); url.value = data.url;
    root.append(field("url", "市のページ（URL）", url));
    const updated = el("input", { type: "date" }); updated.value = data.updated;
    root.append(field("updated", "更新日", updated));
    const procedure = el("select", {}, el("option", { value: "", text: "（なし）" }));
    for (const [pid, title] of Object.entries(listing.procedures)) procedure.append(el("option", { value: pid, text: title + "（" + pid + "）" }));
    procedure.value = data.procedure || "";
    root.append(field("procedure", "関係する手続き（任意）", procedure));
  }

  const fieldValue = (key) => $("faq-field-" + key.replace(/[^a-z0-9]/gi, "-")).value;
  function collect() {
    const value = fieldValue;
    const texts = (key) => Object.fromEntries(LANGUAGES.map(([language]) => [language, value(key + "." + language)]));
    const lines = (key) => value(key).split("\n").map((t) => t.trim()).filter(Boolean);
    return { question: texts("question"), answer: texts("answer"), variants: { ja: lines("variants.ja"), en: lines("variants.en") },
      section: value("section"), url: value("url"), updated: value("updated"), procedure: value("procedure") || null };
  }

  function clearErrors() {
    for (const slot of $("faq-fields").querySelectorAll(".field-error")) { slot.hidden = true; slot.textContent = ""; }
    for (const input of $("faq-fields").querySelectorAll("[aria-invalid]")) { input.removeAttribute("aria-invalid"); input.removeAttribute("aria-describedby"); }
  }

  // "entries[3](garbage_day).variants.ja[2]" → "variants.ja"; "question.en" stays.
  const keyOf = (fieldName) => fieldName.replace(/^entries\[\d+\](\([^)]*\))?\.?/, "").replace(/\[\d+\]$/, "");
  function showProblems(problems) {
    let first = null;
    const unplaced = [];
    for (const problem of problems) {
      const key = keyOf(problem.field || "");
      const slot = $(slotId(key)), input = $("faq-field-" + key.replace(/[^a-z0-9]/gi, "-"));
      if (!slot || !input) { unplaced.push(explain(problem.message)); continue; }
      slot.textContent = explain(problem.message); slot.hidden = false;
      input.setAttribute("aria-invalid", "true"); input.setAttribute("aria-describedby", slot.id);
      first = first || input;
    }
    showAlert("保存していません。" + problems.length + "件の問題があります。" + (unplaced.length ? " " + unplaced.join(" / ") : ""));
    if (first) first.focus();
  }

  async function save() {
    clearErrors();
    try {
      if (entry.id === null) {
        const id = fieldValue("id").trim();
        const made = await send("POST", "/faq", { category: fieldValue("category"), id, data: collect(), missed: entry.missed });
        listing = await api("/faq"); renderList();
        await openEntry(made.id);  // the entry as saved, ready for more edits
        say("FAQを作りました（" + made.id + "）。聞き取れなかった質問" + made.missed_resolved + "件を受付から外しました。");
        return;
      }
      const saved = await send("PUT", "/faq/" + encodeURIComponent(entry.id), { version: entry.version, data: collect() });
      entry.version = saved.version;
      say("保存しました（" + entry.id + "）。次の学習と公開で答えに使われます。");
      listing = await api("/faq"); renderList();
      $("faq-editor-title").focus();
    } catch (e) {
      if (e.status === 422 && e.body.problems) { showProblems(e.body.problems); return; }
      if (e.status === 400 && e.body.field) { showProblems([{ field: e.body.field, message: e.body.message }]); return; }
      throw e;
    }
  }

  // --- import ------------------------------------------------------------------------------------
  async function readUpload() {
    const file = $("faq-file").files[0];
    if (!file) { $("faq-file").focus(); throw new Error("ファイルを選んでください。"); }
    const bytes = new Uint8Array(await file.arrayBuffer());
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    const mapping = {};
    for (const input of $("faq-mapping").querySelectorAll("input")) if (input.value.trim()) mapping[input.dataset.field] = input.value.trim();
    return { filename: file.name, content_base64: btoa(binary), mapping,
      category: $("faq-import-category").value.trim() || null, section: $("faq-import-section").value || null };
  }

  function summary(plan) {
    const lines = plan.summary.slice();
    if (plan.problems.length) lines.push("", "取り込むと次の問題が出るため、このままでは取り込めません。");
    return lines.join("\n");
  }

  async function preview() {
    upload = await readUpload();
    const plan = await send("POST", "/faq/import/preview", upload);
    $("faq-import-summary").textContent = summary(plan);
    const canApply = !plan.problems.length && plan.files.length > 0;
    $("faq-import-apply").hidden = !canApply;
    $("faq-import-review").hidden = false;
    $("faq-import-review").focus();
    say("新規" + plan.counts.new + "件、変更" + plan.counts.changed + "件、変更なし" + plan.counts.unchanged + "件です。"
      + (plan.problems.length ? " 問題が" + plan.problems.length + "件あります。" : ""));
  }

  async function apply() {
    const plan = await send("POST", "/faq/import", upload);
    $("faq-import-apply").hidden = true;
    $("faq-import-summary").textContent = summary(plan);
    say("取り込みました（" + plan.files.length + "ファイル）。次の学習と公開で答えに使われます。");
    listing = await api("/faq"); renderList();
    $("faq-import-review").focus();
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("faq-search-form").addEventListener("submit", (e) => e.preventDefault());
    $("faq-search").addEventListener("input", () => listing && renderList());
    $("faq-stale-only").addEventListener("change", () => listing && renderList());
    $("faq-form").addEventListener("submit", (e) => { e.preventDefault(); act(save); });
    $("faq-close").addEventListener("click", () => { $("faq-editor").hidden = true; $("faq-title").tabIndex = -1; $("faq-title").focus(); });
    $("faq-import-form").addEventListener("submit", (e) => { e.preventDefault(); act(preview); });
    $("faq-import-apply").addEventListener("click", () => act(apply));
  });
})();
