// Admin console: procedure editor (check → diff → save, preview, history), freshness, missed questions,
// analytics, models. Every text from the server is inserted with textContent, never as HTML; the only
// markup taken from the server is the analytics SVG, parsed as XML and imported (no scripts in it).
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const el = (tag, props = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value === true ? "" : value);
    }
    node.append(...children);
    return node;
  };
  const FIELD_LABEL = { id: "ID", section: "担当窓口", owner: "担当の係（内容の責任者）", review_by: "見直し期限", human_only: "いつも職員が対応する（機微な相談）",
    title: "名称", lead: "最初の一文（結論）", summary: "概要", audience: "対象の人", deadline: "期限", documents: "持ち物（1行に1つ）", fee: "手数料",
    how: "手続きの方法", related: "関連する手続き", examples: "例文（学習用）" };
  const LANGUAGE_LABEL = { ja: "日本語", en: "English", easy: "やさしい日本語" };
  const HTML_LANG = { ja: "ja", en: "en", easy: "ja" };
  const WAY_LABEL = { online: "オンライン", convenience_store: "コンビニ", counter: "窓口", post: "郵送", other: "その他" };
  const ACTION_LABEL = { original: "元のファイル", save: "保存", restore: "復元", "example.add": "例文を追加" };
  // The catalog checker speaks English (it also serves the CLI): a Japanese explanation goes first.
  const MESSAGE_JA = [[/^kanji without furigana/, "ふりがなのない漢字があります"], [/^malformed furigana/, "ふりがなの書き方が違います（{漢字|かんじ} と書きます）"],
    [/^must be a date/, "日付は 2027-03-31 のように書きます"], [/^must be a whole number of yen/, "金額は 0 以上の整数（円）で書きます"],
    [/^must be a non-empty string|^missing/, "入力してください"], [/^needs at least (\d+) examples/, "例文が足りません"],
    [/^each language needs the same number/, "どの言語も同じ数の項目にします"], [/example .* is also under intent|^duplicate example/, "同じ例文がほかにもあります"],
    [/^unknown procedure id|^refers to itself/, "関連する手続きが正しくありません"], [/^unknown counter/, "窓口が正しくありません"],
    [/^needs at least one of/, "手続きの方法を1つ以上書きます"]];
  const explain = (message) => { const hit = MESSAGE_JA.find(([pattern]) => pattern.test(message)); return hit ? hit[1] + "（" + message + "）" : message; };
  let csrf = null, current = null, moves = [], previewTimer = null, views = {};

  function showAlert(text) { const a = $("alert"); a.textContent = text; a.hidden = !text; }
  function say(text) { $("status").textContent = text; }

  async function api(path, options = {}) {
    const headers = { "Content-Type": "application/json" };
    if (csrf) headers["X-CSRF-Token"] = csrf;
    const response = await fetch("/admin/api" + path, { credentials: "same-origin", ...options, headers });
    let body = {};
    try { body = await response.json(); } catch (e) { body = {}; }
    if (!response.ok) {
      if (response.status === 401) showLogin();
      const error = new Error(body.message || ("HTTP " + response.status));
      error.status = response.status; error.body = body;
      throw error;
    }
    return body;
  }
  const send = (method, path, body) => api(path, { method, body: JSON.stringify(body || {}) });
  async function act(fn) { try { showAlert(""); await fn(); } catch (e) { showAlert(e.message); } }

  // --- session -----------------------------------------------------------------------------
  function showOnly(id) {
    for (const view of ["login-view", "forbidden-view", "console-view"]) $(view).hidden = view !== id;
  }
  function showLogin() { csrf = null; showOnly("login-view"); $("who").hidden = true; $("username").focus(); }

  async function start(user) {
    $("who-name").textContent = user.display_name + "（" + (user.role === "admin" ? "管理者" : "職員") + "）";
    $("who").hidden = false;
    if (user.role !== "admin") { showOnly("forbidden-view"); return; }
    showOnly("console-view");
    await openView("procedures", false);
  }

  // --- views -------------------------------------------------------------------------------
  async function openView(name, focus) {
    for (const button of document.querySelectorAll(".tabs button")) {
      if (button.dataset.view === name) button.setAttribute("aria-current", "page"); else button.removeAttribute("aria-current");
    }
    for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== "view-" + name;
    await views[name]();
    if (focus) { const heading = $("view-" + name).querySelector("h2"); heading.tabIndex = -1; heading.focus(); }
  }

  // Other views in their own files (faq.js) use the same helpers and register in `views`.
  window.madoguchiAdmin = { $, el, api, send, act, say, showAlert, explain, views, openView };

  // --- procedure editor ---------------------------------------------------------------------
  views.procedures = async () => {
    const data = await api("/procedures");
    const select = $("procedure-select");
    const chosen = select.value;
    select.replaceChildren(...data.procedures.map((p) =>
      new Option(p.title + "（" + p.id + "）" + (p.stale ? " ・ 見直し期限切れ" : ""), p.id)));
    if (chosen) select.value = chosen;
  };

  const errorId = (key) => "err-" + key.replace(/[^a-z0-9_]/gi, "-");
  function errorSlot(key) { return el("p", { id: errorId(key), class: "field-error", "data-error-for": key, hidden: true }); }
  function control(tag, key, props = {}) {
    const node = el(tag, { id: "f-" + key.replace(/[^a-z0-9_]/gi, "-"), "data-field": key, ...props });
    node.addEventListener("input", schedulePreview);
    node.addEventListener("change", schedulePreview);
    return node;
  }
  function labelled(key, labelText, input, lang) {
    if (lang) input.setAttribute("lang", lang);
    return el("div", { class: "field" }, el("label", { for: input.id, text: labelText }), input, errorSlot(key));
  }
  function localizedInputs(key, values, asList) {
    const box = el("fieldset", {}, el("legend", { text: FIELD_LABEL[key] || key }), errorSlot(key));
    for (const language of ["ja", "en", "easy"]) {
      const value = (values || {})[language];
      const area = control("textarea", key + "." + language, { rows: asList ? 4 : 2 });
      area.value = asList ? (value || []).join("\n") : (value || "");
      box.append(labelled(key + "." + language, LANGUAGE_LABEL[language], area, HTML_LANG[language]));
    }
    return box;
  }

  function buildFields(form) {
    const root = $("fields"); root.replaceChildren();
    moves = [];
    const data = form.data, choices = form.choices;
    for (const field of form.fields) {
      const key = field.key, value = data[key], label = FIELD_LABEL[key] || key;
      if (field.kind === "id") {
        root.append(el("p", {}, el("strong", { text: "ID：" }), el("code", { text: value })));
      } else if (field.kind === "text") {
        const input = control("input", key); input.value = value || ""; root.append(labelled(key, label, input));
      } else if (field.kind === "section") {
        const select = control("select", key);
        select.append(...choices.sections.map((s) => new Option(s.name + "（" + s.id + "）", s.id)));
        select.value = value; root.append(labelled(key, label, select));
      } else if (field.kind === "date") {
        const input = control("input", key, { type: "text", inputmode: "numeric", placeholder: "YYYY-MM-DD", autocomplete: "off" });
        input.value = value || ""; root.append(labelled(key, label + "（YYYY-MM-DD）", input));
      } else if (field.kind === "bool") {
        const box = control("input", key, { type: "checkbox" }); box.checked = !!value;
        root.append(el("div", { class: "field" }, el("label", { class: "check", for: box.id }, box, label), errorSlot(key)));
      } else if (field.kind === "localized") {
        root.append(localizedInputs(key, value, false));
      } else if (field.kind === "localized_list") {
        root.append(localizedInputs(key, value, true));
      } else if (field.kind === "fee") {
        const box = localizedInputs(key, value, false);
        const yen = control("input", key + ".yen", { inputmode: "numeric" }); yen.value = value ? value.yen : 0;
        box.insertBefore(labelled(key + ".yen", "金額（円、無料なら 0）", yen), box.children[2]);
        root.append(box);
      } else if (field.kind === "ways") {
        const box = el("fieldset", {}, el("legend", { text: label }), el("p", { class: "muted", text: "使わない方法は空のままにします。" }), errorSlot(key));
        for (const way of choices.ways) {
          const inner = localizedInputs(key + "." + way, (value || {})[way], false);
          inner.querySelector("legend").textContent = WAY_LABEL[way] || way;
          box.append(inner);
        }
        root.append(box);
      } else if (field.kind === "ids") {
        const box = el("fieldset", {}, el("legend", { text: label }), errorSlot(key));
        const list = el("div", { class: "checks" });
        for (const p of choices.procedures) {
          if (p.id === form.id) continue;
          const check = control("input", key + "." + p.id, { type: "checkbox", value: p.id, "data-field": key });
          check.checked = (value || []).includes(p.id);
          list.append(el("label", { class: "check", for: check.id }, check, p.title));
        }
        box.append(list); root.append(box);
      } else if (field.kind === "examples") {
        root.append(examplesEditor(key, value || {}, choices.intents.filter((i) => i !== form.id)));
      } else {
        root.append(el("div", { class: "field" }, el("p", { text: label + "（この画面では変更できません）" }), el("pre", { text: JSON.stringify(value, null, 2) })));
      }
    }
  }

  function examplesEditor(key, value, intents) {
    const box = el("fieldset", { id: "examples-box" }, el("legend", { text: FIELD_LABEL[key] }), errorSlot(key),
      el("p", { class: "muted", text: "例文を変えたら、モデルの画面で学習して公開すると認識されるようになります。" }));
    for (const language of ["ja", "en"]) {
      const listId = "examples-" + language;
      const list = el("ul", { id: listId, class: "examples", "aria-label": LANGUAGE_LABEL[language] + "の例文", tabindex: "0" });
      (value[language] || []).forEach((text) => list.append(exampleItem(language, text)));
      const addInput = el("input", { id: "add-" + language, lang: HTML_LANG[language], "data-field": key + "." + language });
      const target = el("select", { id: "move-to-" + language });
      target.append(...intents.map((i) => new Option(i, i)));
      box.append(el("h4", { text: LANGUAGE_LABEL[language] + "（" + (value[language] || []).length + "件）" }), list, errorSlot(key + "." + language),
        el("div", { class: "example-actions" },
          el("div", { class: "grow" }, el("label", { for: addInput.id, text: "例文を追加" }), addInput),
          el("button", { type: "button", text: "追加", onclick: () => {
            const text = addInput.value.trim(); if (!text) return;
            list.append(exampleItem(language, text)); addInput.value = ""; addInput.focus(); say("例文を追加しました（まだ保存していません）");
          } })),
        el("div", { class: "example-actions" },
          el("button", { type: "button", text: "選んだ例文を削除", onclick: () => {
            const chosen = checkedExamples(list); chosen.forEach((li) => li.remove());
            say(chosen.length + "件の例文を削除しました（まだ保存していません）");
          } }),
          el("div", {}, el("label", { for: target.id, text: "移動先の意図" }), target),
          el("button", { type: "button", text: "選んだ例文を移動", onclick: () => {
            const chosen = checkedExamples(list);
            for (const li of chosen) { moves.push({ text: li.dataset.text, to: target.value }); li.remove(); }
            renderMoves(); say(chosen.length + "件の例文を " + target.value + " へ移動します（まだ保存していません）");
          } })));
    }
    box.append(el("p", { id: "moves", class: "moved", "aria-live": "polite" }));
    return box;
  }
  let exampleCounter = 0;
  function exampleItem(language, text) {
    const id = "ex-" + (++exampleCounter);
    const box = el("input", { type: "checkbox", id });
    const item = el("li", { "data-language": language }, el("label", { class: "check", for: id, lang: HTML_LANG[language] }, box, text));
    item.dataset.text = text;
    return item;
  }
  const checkedExamples = (list) => [...list.querySelectorAll("li")].filter((li) => li.querySelector("input").checked);
  function renderMoves() {
    $("moves").textContent = moves.length ? "保存すると移動：" + moves.map((m) => "「" + m.text + "」→ " + m.to).join("、") : "";
  }

  function collect() {
    const data = JSON.parse(JSON.stringify(current.data));
    for (const field of current.fields) {
      const key = field.key;
      const get = (k) => { const n = document.querySelector('[data-field="' + k + '"]'); return n ? n.value : ""; };
      const lines = (k) => get(k).split("\n").map((s) => s.trim()).filter(Boolean);
      if (field.kind === "text" || field.kind === "section" || field.kind === "date") data[key] = get(key);
      else if (field.kind === "bool") data[key] = document.querySelector('[data-field="' + key + '"]').checked;
      else if (field.kind === "localized") data[key] = { ja: get(key + ".ja"), en: get(key + ".en"), easy: get(key + ".easy") };
      else if (field.kind === "localized_list") data[key] = { ja: lines(key + ".ja"), en: lines(key + ".en"), easy: lines(key + ".easy") };
      else if (field.kind === "fee") data[key] = { yen: get(key + ".yen"), ja: get(key + ".ja"), en: get(key + ".en"), easy: get(key + ".easy") };
      else if (field.kind === "ways") {
        data[key] = {};
        for (const way of current.choices.ways) data[key][way] = { ja: get(key + "." + way + ".ja"), en: get(key + "." + way + ".en"), easy: get(key + "." + way + ".easy") };
      } else if (field.kind === "ids") data[key] = [...document.querySelectorAll('input[type=checkbox][data-field="' + key + '"]')].filter((c) => c.checked).map((c) => c.value);
      else if (field.kind === "examples") {
        data[key] = {};
        for (const language of ["ja", "en"]) data[key][language] = [...$("examples-" + language).querySelectorAll("li")].map((li) => li.dataset.text);
      }
    }
    return data;
  }

  function clearErrors() {
    for (const slot of document.querySelectorAll(".field-error")) { slot.hidden = true; slot.textContent = ""; }
    for (const node of document.querySelectorAll("[aria-invalid]")) { node.removeAttribute("aria-invalid"); node.removeAttribute("aria-describedby"); }
  }
  // "documents.easy[1]" → documents.easy[1], documents.easy, documents: the most precise slot shown.
  function candidates(field) {
    const keys = [field];
    let key = field;
    while (true) {
      const shorter = key.replace(/\[\d+\]$/, "") !== key ? key.replace(/\[\d+\]$/, "") : key.includes(".") ? key.slice(0, key.lastIndexOf(".")) : null;
      if (!shorter) break;
      keys.push(shorter); key = shorter;
    }
    return keys;
  }
  function showProblems(problems) {
    clearErrors();
    let first = null;
    const general = [];
    for (const problem of problems) {
      const ours = problem.file === current.path;
      const field = ours ? problem.field : (problem.field.includes("examples") ? "examples" : null);
      const key = field && candidates(field).find((k) => document.querySelector('[data-error-for="' + k + '"]'));
      if (!key) { general.push(problem.file + ":" + problem.line + " " + problem.field + "：" + problem.message); continue; }
      const slot = document.querySelector('[data-error-for="' + key + '"]');
      slot.hidden = false;
      slot.textContent = (slot.textContent ? slot.textContent + " / " : "") + (ours ? "" : problem.file + "：") + explain(problem.message);
      const input = document.querySelector('[data-field="' + key + '"]') || slot.closest("fieldset").querySelector("input, textarea, select");
      if (input) {
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("aria-describedby", slot.id);
        first = first || input;
      }
    }
    showAlert(problems.length + "件の問題があるため保存していません。各項目の横の説明を見て直してください。" + (general.length ? " " + general.join(" / ") : ""));
    if (first) first.focus();
  }

  async function openProcedure(pid) {
    current = await api("/procedures/" + encodeURIComponent(pid));
    $("procedure-select").value = pid;
    $("editor-title").textContent = "編集：" + current.data.title.ja + "（" + pid + "）";
    buildFields(current);
    clearErrors(); $("review").hidden = true; $("editor").hidden = false;
    await Promise.all([loadHistory(), preview()]);
  }

  function schedulePreview() {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(() => preview().catch(() => {}), 1200);
  }
  async function preview() {
    if (!current) return;
    const result = await send("POST", "/procedures/" + current.id + "/preview", { data: collect() });
    const box = $("preview"); box.replaceChildren();
    if (!result.answers) {
      box.append(el("p", { class: "field-error", text: "内容に問題があるため表示できません（" + result.problems.length + "件）。" }));
      return;
    }
    for (const language of ["ja", "en", "easy"]) {
      const block = el("div", { class: "preview-block", lang: HTML_LANG[language], "data-language": language },
        el("h4", { lang: "ja", text: LANGUAGE_LABEL[language] }));
      for (const message of result.answers[language]) block.append(el("p", { text: message.text }));
      box.append(block);
    }
  }
  async function speak(language) {
    say("音声を作っています…");
    const result = await send("POST", "/procedures/" + current.id + "/speech", { data: collect(), language });
    const audio = $("preview-audio");
    audio.src = result.url; audio.hidden = false;
    say(LANGUAGE_LABEL[language] + "の音声ができました（" + Math.round(result.seconds) + "秒）。再生ボタンで聞けます。");
    audio.focus();
  }

  async function checkEdit() {
    const result = await send("POST", "/procedures/" + current.id + "/check", { data: collect(), moves });
    if (result.problems.length) { $("review").hidden = true; showProblems(result.problems); return; }
    clearErrors();
    $("diff").textContent = result.diff || "（変更はありません）";
    $("review").hidden = false; $("review").focus();
  }
  async function saveEdit() {
    try {
      await send("PUT", "/procedures/" + current.id, { data: collect(), moves, version: current.version });
    } catch (e) {
      if (e.status === 422) { $("review").hidden = true; showProblems(e.body.problems); return; }
      if (e.status === 409) { showAlert("ほかの管理者が先にこの手続きを保存しました。「読み込み直す」で最新の内容を開き、もう一度編集してください。"); return; }
      throw e;
    }
    const pid = current.id;
    await openProcedure(pid);
    say("保存しました。答えはすぐに新しい内容になります（例文の変更は、学習して公開すると反映されます）。");
    $("check").focus();
  }

  async function loadHistory() {
    const data = await api("/procedures/" + current.id + "/history");
    const list = $("history"); list.replaceChildren();
    $("history-diff-box").hidden = true;
    if (!data.versions.length) { list.append(el("li", { class: "muted", text: "まだこの画面からの変更はありません。" })); return; }
    for (const version of data.versions) {
      const when = new Date(version.at).toLocaleString("ja-JP");
      const show = el("button", { type: "button", text: "差分を見る", onclick: () => act(async () => {
        const found = await api("/history/" + version.id);
        $("history-diff").textContent = found.diff || "（今の内容と同じです）"; $("history-diff-box").hidden = false;
      }) });
      const restore = el("button", { type: "button", text: "この版に戻す", onclick: () => act(async () => {
        await send("POST", "/history/" + version.id + "/restore", { version: current.version });
        await openProcedure(current.id); say("版 " + version.id + " に戻しました。");
      }) });
      show.setAttribute("aria-label", "差分を見る（版 " + version.id + "）");  // the visible words first (WCAG 2.5.3)
      restore.setAttribute("aria-label", "この版に戻す（版 " + version.id + "）");
      list.append(el("li", {}, el("span", { text: "版 " + version.id + "：" + when + " ・ " + version.author + " ・ " + (ACTION_LABEL[version.action] || version.action) }),
        el("br"), show, restore));
    }
  }

  // --- freshness ----------------------------------------------------------------------------
  views.freshness = async () => {
    const data = await api("/freshness");
    $("freshness-today").textContent = "今日：" + data.today;
    const root = $("freshness"); root.replaceChildren();
    if (!data.owners.length) { root.append(el("p", { text: "見直し期限を過ぎた手続きはありません。" })); return; }
    for (const owner of data.owners) {
      const body = el("tbody");
      for (const p of owner.procedures) {
        body.append(el("tr", {}, el("td", { text: p.title + "（" + p.id + "）" }), el("td", { text: p.review_by }),
          el("td", { class: "number", text: p.days_overdue + "日" }),
          el("td", {}, el("button", { type: "button", text: "編集する", "aria-label": p.title + "を編集する",
            onclick: () => act(async () => { await openView("procedures", false); await openProcedure(p.id); $("editor-title").focus(); }) }))));
      }
      const table = el("table", {}, el("caption", { text: owner.owner + "（" + owner.procedures.length + "件）" }),
        el("thead", {}, el("tr", {}, ...["手続き", "見直し期限", "超過", "操作"].map((h) => el("th", { scope: "col", text: h })))), body);
      root.append(el("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": owner.owner }, table));
    }
  };

  // --- missed questions ---------------------------------------------------------------------
  const OUTCOMES = { fallback: "わからないと答えた", route: "担当課を案内した", clarify: "聞き返した" };
  views.missed = async () => {
    const data = await api("/missed");
    const root = $("missed"); root.replaceChildren();
    if (!data.groups.length) { root.append(el("p", { text: "いまは聞き取れなかった質問はありません。" })); return; }
    data.groups.forEach((group, index) => {
      const titleId = "group-" + index + "-title";
      const select = el("select", { id: "group-" + index + "-intent" });
      select.append(...data.intents.map((i) => new Option((data.titles[i] ? data.titles[i] + "（" + i + "）" : i), i)));
      if (group.suggested_intent) select.value = group.suggested_intent;
      const texts = group.texts.map((t) => t.text);
      const card = el("section", { class: "card group", "aria-labelledby": titleId, "data-group": group.id },
        el("h3", { id: titleId, text: "質問のまとまり " + (index + 1) + "（" + group.count + "回）" }),
        el("ul", {}, ...group.texts.map((t) => el("li", { text: "「" + t.text + "」 " + t.count + "回" }))),
        el("p", { class: "muted", text: group.shared.length ? "共通する文字：" + group.shared.join("・") : "1件だけの質問です" }),
        el("p", { class: "muted", text: "答え方：" + Object.entries(group.outcomes || {}).map(([k, n]) => (OUTCOMES[k] || k) + " " + n + "回").join("、")
          + (group.suggested_section ? "。案内した担当課：" + (data.sections[group.suggested_section] || group.suggested_section) : "") }),
        el("div", { class: "example-actions" },
          el("div", {}, el("label", { for: select.id, text: "例文にする意図" }), select),
          el("button", { type: "button", class: "primary", text: "例文にする", onclick: () => act(async () => {
            try {
              await send("POST", "/missed/examples", { intent: select.value, texts });
            } catch (e) {
              if (e.status === 422) { showAlert("例文にできません：" + e.body.problems.map((p) => p.message).join(" / ")); return; }
              throw e;
            }
            await views.missed(); say(texts.length + "件を " + select.value + " の例文にしました。次の学習と公開で認識されます。");
            $("missed-title").focus();
          }) }),
          el("button", { type: "button", text: "FAQを作る", "aria-label": "質問のまとまり " + (index + 1) + " からFAQを作る",
            onclick: () => act(() => window.madoguchiAdmin.newEntryFromMissed(group)) }),
          el("button", { type: "button", text: "対象外にする", onclick: () => act(async () => {
            await send("POST", "/missed/dismiss", { texts }); await views.missed(); say("対象外にしました。"); $("missed-title").focus();
          }) })));
      root.append(card);
    });
    $("missed-title").tabIndex = -1;
  };

  // --- analytics ----------------------------------------------------------------------------
  const percent = (v) => v === null || v === undefined ? "—" : (v * 100).toFixed(1) + "%";
  const duration = (s) => s === null || s === undefined ? "—" : s < 60 ? s + "秒" : Math.floor(s / 60) + "分" + (s % 60) + "秒";
  function rangeQuery() { return "?from=" + encodeURIComponent($("range-from").value) + "&to=" + encodeURIComponent($("range-to").value); }
  views.analytics = async () => {
    if (!$("range-to").value) {
      const today = new Date(), from = new Date(today.getTime() - 29 * 86400000);
      const iso = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
      $("range-to").value = iso(today); $("range-from").value = iso(from);
    }
    const data = await api("/analytics" + rangeQuery());
    $("csv").href = "/admin/api/analytics.csv" + rangeQuery();
    const rows = [["会話数", data.conversations], ["人を介さず完結", percent(data.containment)], ["職員への引き継ぎ", data.handoffs + "件（" + percent(data.handoff_rate) + "）"],
      ["待ち時間（平均／中央値／最長）", duration(data.waiting.mean_seconds) + "／" + duration(data.waiting.median_seconds) + "／" + duration(data.waiting.max_seconds)],
      ["理解できなかった質問", data.fallbacks + "件 / " + data.messages + "件（" + percent(data.fallback_rate) + "）"],
      ["満足度", data.satisfaction.mean === null ? "—" : data.satisfaction.mean + "（" + data.satisfaction.count + "件）"], ["折り返し電話の依頼", data.callbacks + "件"]];
    $("summary").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: String(v), "data-metric": k })]));
    const root = $("charts"); root.replaceChildren();
    for (const chart of data.charts) {
      const svg = new DOMParser().parseFromString(chart.svg, "image/svg+xml").documentElement;
      const table = el("table", { id: "table-" + chart.id }, el("caption", { text: chart.title + "（数値）" }),
        el("thead", {}, el("tr", {}, ...chart.headers.map((h) => el("th", { scope: "col", text: h })))),
        el("tbody", {}, ...(chart.rows.length ? chart.rows.map((r) => el("tr", {}, ...r.map((c, i) => i === 0 ? el("th", { scope: "row", text: String(c) }) : el("td", { class: "number", text: String(c) }))))
          : [el("tr", {}, el("td", { colspan: String(chart.headers.length), text: "この期間のデータはありません" }))])));
      root.append(el("figure", { id: "chart-" + chart.id }, el("figcaption", { text: chart.title }), document.importNode(svg, true),
        el("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": chart.title + "の数値" }, table)));
    }
  };

  // --- models (API: notes/admin-models-api.md) ----------------------------------------------
  let jobTimer = null;
  const models = (path, options) => fetch("/admin/api" + path, { credentials: "same-origin", ...options,
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf || "" } }).then(async (r) => ({ status: r.status, body: await r.json().catch(() => ({})) }));
  views.models = async () => {
    const reply = await models("/models");
    const body = $("models").querySelector("tbody"); body.replaceChildren();
    if (reply.status === 404) {
      $("train").disabled = true;
      body.append(el("tr", {}, el("td", { colspan: "7", text: "このサーバーにはモデル管理の機能がまだありません。" })));
      return;
    }
    if (reply.status !== 200) throw new Error(reply.body.message || "HTTP " + reply.status);
    $("train").disabled = !!reply.body.job;
    for (const m of reply.body.models) {
      const scores = m.scores || {};
      const buttons = el("td", {},
        el("button", { type: "button", text: "評価を見る", "aria-label": "モデル " + m.id + " の評価を見る", onclick: () => act(() => evaluation(m.id)) }),
        m.can_publish ? el("button", { type: "button", text: "公開", "aria-label": "モデル " + m.id + " を公開", onclick: () => act(() => startJob("/models/" + m.id + "/publish")) }) : "",
        m.can_rollback ? el("button", { type: "button", text: "ロールバック", "aria-label": "モデル " + m.id + " にロールバック", onclick: () => act(() => startJob("/models/" + m.id + "/rollback")) }) : "");
      body.append(el("tr", {}, el("td", { text: String(m.id) }), el("td", { text: new Date(m.created_at).toLocaleString("ja-JP") }),
        el("td", { text: m.trained_by }), el("td", { class: "number", text: percent(scores.accuracy) }), el("td", { class: "number", text: percent(scores.macro_f1) }),
        el("td", { text: m.running ? "稼働中" : m.published_at ? "公開したことあり" : "未公開" }), buttons));
    }
    if (reply.body.job) watchJob(reply.body.job);
  };
  async function startJob(path) {
    const reply = await models(path, { method: "POST", body: "{}" });
    if (reply.status === 202 || reply.status === 200) { if (reply.body.job) watchJob(reply.body.job); return; }
    throw new Error(reply.body.message || "HTTP " + reply.status);
  }
  const PHASE = { compiling: "準備中", training: "学習中", evaluating: "評価中", loading: "読み込み中", swapping: "切り替え中", done: "完了", failed: "失敗" };
  function watchJob(id, after) {
    clearTimeout(jobTimer);
    $("job").hidden = false; $("train").disabled = true;
    const poll = async () => {
      const reply = await models("/jobs/" + encodeURIComponent(id));
      const job = reply.body;
      $("job-progress").value = job.progress || 0;
      const eta = job.eta_seconds ? " ・ 残り約" + duration(job.eta_seconds) : "";
      const epochs = job.epochs ? "（" + job.epoch + "/" + job.epochs + "）" : "";
      $("job-text").textContent = (PHASE[job.phase] || job.state) + epochs + eta + " ・ " + Math.round((job.progress || 0) * 100) + "%";
      if (job.state === "done" || job.state === "failed") {
        $("train").disabled = false;
        if (job.state === "failed") showAlert("失敗しました：" + job.message);
        await views.models();
        if (job.state === "done" && after) await after();
        return;
      }
      jobTimer = setTimeout(() => poll().catch((e) => showAlert(e.message)), 1000);
    };
    poll().catch((e) => showAlert(e.message));
  }
  async function evaluation(id) {
    const reply = await models("/models/" + id + "/evaluation");
    if (reply.status === 202) { say("評価しています。終わると表が出ます。"); watchJob(reply.body.job, () => evaluation(id)); return; }
    if (reply.status !== 200) throw new Error(reply.body.message || "HTTP " + reply.status);
    const mine = reply.body.model, running = reply.body.running;
    const intents = Object.keys(mine.per_intent).sort();
    const cells = (e, i) => e && e.per_intent[i] ? ["precision", "recall", "f1"].map((k) => el("td", { class: "number", text: e.per_intent[i][k].toFixed(2) })) : [el("td", { text: "—" }), el("td", { text: "—" }), el("td", { text: "—" })];
    const table = $("evaluation-table");
    table.replaceChildren(el("caption", { text: "モデル " + id + " と稼働中のモデル" + (running ? " " + running.model_id : "") + "（適合率・再現率・F1）" }),
      el("thead", {}, el("tr", {}, ...["意図", "適合率（新）", "再現率（新）", "F1（新）", "適合率（稼働中）", "再現率（稼働中）", "F1（稼働中）"].map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, ...intents.map((i) => el("tr", {}, el("th", { scope: "row", text: i }), ...cells(mine, i), ...cells(running, i)))));
    $("confused").replaceChildren(...(mine.confused.length ? mine.confused.map((c) => el("li", { text: c.expected + " → " + c.predicted + "：" + c.count + "件" })) : [el("li", { text: "ありません" })]));
    $("evaluation").hidden = false; $("evaluation").focus();
  }

  // --- wiring -------------------------------------------------------------------------------
  document.addEventListener("DOMContentLoaded", async () => {
    $("login-form").addEventListener("submit", (e) => { e.preventDefault(); act(async () => {
      const body = await send("POST", "/login", { username: $("username").value, password: $("password").value });
      csrf = body.csrf_token; $("password").value = ""; await start(body.user);
    }); });
    $("logout").addEventListener("click", () => act(async () => { await send("POST", "/logout"); showLogin(); $("who").hidden = true; }));
    for (const button of document.querySelectorAll(".tabs button")) button.addEventListener("click", () => act(() => openView(button.dataset.view, true)));
    $("pick-form").addEventListener("submit", (e) => { e.preventDefault(); act(() => openProcedure($("procedure-select").value)); });
    $("editor-form").addEventListener("submit", (e) => { e.preventDefault(); act(checkEdit); });
    $("confirm-save").addEventListener("click", () => act(saveEdit));
    $("cancel-save").addEventListener("click", () => { $("review").hidden = true; $("check").focus(); });
    $("reload").addEventListener("click", () => act(() => openProcedure(current.id)));
    $("speak-ja").addEventListener("click", () => act(() => speak("ja")));
    $("speak-easy").addEventListener("click", () => act(() => speak("easy")));
    $("range-form").addEventListener("submit", (e) => { e.preventDefault(); act(views.analytics); });
    $("train").addEventListener("click", () => act(() => startJob("/models/train")));
    const session = await api("/session");
    if (session.logged_in) { csrf = session.csrf_token; await start(session.user); } else { showLogin(); }
  });
})();
