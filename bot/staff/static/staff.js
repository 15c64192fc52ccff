// Staff console: queue (live via SSE), claim, transcript, reply, transfer, hand back, close, slip lookup.
// All resident text is inserted with textContent: never as HTML.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const STATE_LABEL = { queued: "待機中", assigned: "対応中", callback_requested: "折り返し希望", bot: "自動案内", closed: "終了" };
  const CHANNEL_LABEL = { web: "Web", rest: "API", telegram: "Telegram", line: "LINE", voice: "電話" };
  const LANGUAGE_LABEL = { ja: "日本語", en: "English", easy: "やさしい日本語" };
  const REASON_LABEL = { request: "本人の希望", fallback: "自動案内で解決せず", sensitive: "要配慮の相談", staff_pull: "職員が引き継ぎ", callback: "折り返し電話" };
  let csrf = null, me = null, current = null, events = null, sectionNames = {};

  // Where an automatic answer came from: the clerk sees which procedure, FAQ entry or section was given.
  const SOURCE_LABEL = { procedure: "手続き", faq: "よくある質問", faq_choice: "よくある質問（選択）", route: "担当課の案内",
    clarify: "確認", fallback: "回答できず", conversation: "会話", handoff: "引き継ぎ" };
  function sourceLabel(source) {
    if (!source || !source.source || source.source === "conversation") return "";
    const detail = source.id || (source.ids || []).join("・") || (sectionNames[source.section] || source.section) || "";
    return "［" + (SOURCE_LABEL[source.source] || source.source) + (detail ? "：" + detail : "") + "］";
  }
  function showAlert(text) { const a = $("alert"); a.textContent = text; a.hidden = !text; }

  async function api(path, options = {}) {
    const headers = { "Content-Type": "application/json" };
    if (csrf) headers["X-CSRF-Token"] = csrf;
    const response = await fetch("/staff/api" + path, { credentials: "same-origin", ...options, headers });
    let body = {};
    try { body = await response.json(); } catch (e) { body = {}; }
    if (!response.ok) {
      if (response.status === 401) { showLogin(); }
      throw new Error(body.message || ("HTTP " + response.status));
    }
    return body;
  }
  const post = (path, body) => api(path, { method: "POST", body: JSON.stringify(body || {}) });

  function minutes(seconds) { return seconds < 60 ? "1分未満" : Math.floor(seconds / 60) + "分"; }

  function showLogin() {
    $("login-view").hidden = false; $("console-view").hidden = true; $("who").hidden = true;
    if (events) { events.close(); events = null; }
    if (refresher) { clearInterval(refresher); refresher = null; }
    $("username").focus();
  }

  async function showConsole(user) {
    me = user;
    $("who-name").textContent = user.display_name + "（" + (user.role === "admin" ? "管理者" : "職員") + "）";
    $("who").hidden = false; $("login-view").hidden = true; $("console-view").hidden = false;
    const sections = await api("/sections");
    sectionNames = Object.fromEntries(sections.sections.map((s) => [s.id, s.name]));
    $("transfer-to").replaceChildren(...sections.sections.map((s) => new Option(s.name, s.id)));
    const canned = await api("/canned?language=ja");
    for (const item of canned.canned) { $("canned").append(new Option(item.text, item.text)); }
    await loadQueue();
    listen();
  }

  let refresher = null;

  function listen() {
    if (events) events.close();
    // Waiting times grow while nothing happens: refresh the list every 30 s as well.
    if (!refresher) refresher = setInterval(() => { if (csrf) loadQueue().catch(() => {}); }, 30000);
    events = new EventSource("/staff/api/events");
    events.onopen = () => { $("live").textContent = "自動更新中"; };
    events.onerror = () => { $("live").textContent = "接続が切れました。再接続しています…"; };
    events.addEventListener("queue_changed", () => { loadQueue(); if (current) openConversation(current, false); });
    events.addEventListener("message", (e) => {
      const data = JSON.parse(e.data);
      loadQueue();
      if (data.conversation_id === current) openConversation(current, false);
    });
  }

  async function loadQueue() {
    const data = await api("/queue");
    const list = $("queue");
    list.replaceChildren();
    $("queue-count").textContent = "（" + data.queue.length + "件）";
    for (const entry of data.queue) {
      const button = document.createElement("button");
      button.type = "button";
      button.setAttribute("aria-current", entry.conversation_id === current ? "true" : "false");
      const state = document.createElement("span"); state.className = "state"; state.textContent = STATE_LABEL[entry.state] || entry.state;
      const title = entry.summary.procedure_title || "（手続き未定）";
      const detail = document.createElement("span");
      detail.textContent = " " + title + " ・ " + (sectionNames[entry.section] || entry.section) + " ・ " +
        (CHANNEL_LABEL[entry.channel] || entry.channel) + " ・ " +
        (LANGUAGE_LABEL[entry.language] || entry.language) + " ・ 待ち " + minutes(entry.waiting_seconds) +
        (entry.assigned_to ? " ・ 担当 " + entry.assigned_to : "");
      const last = document.createElement("span"); last.className = "muted";
      last.textContent = (entry.summary.last_messages || []).slice(-1).map((m) => "「" + m + "」").join("");
      button.append(state, detail, document.createElement("br"), last);
      button.addEventListener("click", () => openConversation(entry.conversation_id, true));
      const item = document.createElement("li"); item.append(button); list.append(item);
    }
  }

  async function openConversation(cid, focus) {
    current = cid;
    const data = await api("/conversations/" + encodeURIComponent(cid));
    $("conv-empty").hidden = true; $("conv").hidden = false;
    const meta = $("conv-meta"); meta.replaceChildren();
    const h = data.handoff;
    const rows = h ? [["状態", STATE_LABEL[h.state] || h.state], ["窓口", sectionNames[h.section] || h.section],
      ["チャネル", CHANNEL_LABEL[h.channel] || h.channel], ["言語", LANGUAGE_LABEL[h.language] || h.language],
      ["理由", REASON_LABEL[h.reason] || h.reason], ["待ち時間", minutes(h.waiting_seconds)], ["手続き", h.summary.procedure_title || "—"],
      ["担当", h.assigned_to || "—"]] : [["状態", "自動案内"]];
    for (const [k, v] of rows) { const dt = document.createElement("dt"); dt.textContent = k; const dd = document.createElement("dd"); dd.textContent = v; meta.append(dt, dd); }
    const state = h ? h.state : "bot";
    $("claim").hidden = state !== "queued";
    $("handback").hidden = state !== "assigned";
    $("reply-form").hidden = state !== "assigned";
    $("close-form").hidden = state !== "assigned";
    $("callback").hidden = state !== "callback_requested";
    $("phone").textContent = "";
    const log = $("transcript"); log.replaceChildren();
    for (const line of data.transcript) {
      if (line.from === "system") continue;
      const item = document.createElement("li"); item.className = line.from;
      const who = document.createElement("span"); who.className = "who-label";
      who.textContent = line.from === "resident" ? "住民" : line.from === "staff" ? "職員 " + ((line.staff || {}).name || "") : "自動案内";
      if (line.heard) {  // spoken on the phone: what the recognizer heard, and how sure it was
        const sure = typeof line.heard.confidence === "number" ? " " + Math.round(line.heard.confidence * 100) + "%" : "";
        who.textContent += "（音声認識" + sure + "）";
      }
      const text = document.createElement("span"); text.textContent = line.text || "";
      item.append(who, text);
      const source = sourceLabel(line.source);
      if (source) { const tag = document.createElement("span"); tag.className = "source-label"; tag.textContent = source; item.append(tag); }
      log.append(item);
    }
    $("transcript-log").scrollTop = $("transcript-log").scrollHeight;
    await loadQueue();
    if (focus) ($("claim").hidden ? $("reply") : $("claim")).focus();
  }

  async function act(fn) { try { showAlert(""); await fn(); } catch (e) { showAlert(e.message); } }

  document.addEventListener("DOMContentLoaded", async () => {
    $("login-form").addEventListener("submit", (e) => { e.preventDefault(); act(async () => {
      const body = await post("/login", { username: $("username").value, password: $("password").value });
      csrf = body.csrf_token; $("password").value = ""; await showConsole(body.user);
    }); });
    $("logout").addEventListener("click", () => act(async () => { await post("/logout"); csrf = null; showLogin(); }));
    $("claim").addEventListener("click", () => act(async () => { await post("/conversations/" + encodeURIComponent(current) + "/claim"); await openConversation(current, true); }));
    $("handback").addEventListener("click", () => act(async () => { await post("/conversations/" + encodeURIComponent(current) + "/handback"); await openConversation(current, false); }));
    $("transfer").addEventListener("click", () => act(async () => { await post("/conversations/" + encodeURIComponent(current) + "/transfer", { section: $("transfer-to").value }); await openConversation(current, false); }));
    $("canned").addEventListener("change", () => { if ($("canned").value) { $("reply").value = $("canned").value; $("reply").focus(); } });
    $("reply-form").addEventListener("submit", (e) => { e.preventDefault(); act(async () => {
      const text = $("reply").value.trim(); if (!text) return;
      await post("/conversations/" + encodeURIComponent(current) + "/messages", { text });
      $("reply").value = ""; await openConversation(current, false); $("reply").focus();
    }); });
    $("close-form").addEventListener("submit", (e) => { e.preventDefault(); act(async () => {
      await post("/conversations/" + encodeURIComponent(current) + "/close", { note: $("close-note").value });
      $("close-note").value = ""; await openConversation(current, false);
    }); });
    $("show-phone").addEventListener("click", () => act(async () => {
      const data = await api("/conversations/" + encodeURIComponent(current) + "/callback");
      $("phone").textContent = "電話番号：" + data.phone;
    }));
    $("callback-form").addEventListener("submit", (e) => { e.preventDefault(); act(async () => {
      await post("/conversations/" + encodeURIComponent(current) + "/callback-done", { note: $("callback-note").value });
      $("callback-note").value = ""; await openConversation(current, false);
    }); });
    $("slip-form").addEventListener("submit", (e) => { e.preventDefault(); act(async () => {
      const out = $("slip-result"); out.replaceChildren();
      const slip = await api("/slips/" + encodeURIComponent($("slip-number").value));
      const title = document.createElement("strong"); title.textContent = slip.number + "：" + (slip.title || "（手続き未定）");
      const list = document.createElement("ul");
      for (const d of slip.documents || []) { const li = document.createElement("li"); li.textContent = d; list.append(li); }
      const summary = document.createElement("p"); summary.textContent = slip.summary || "";
      const open = document.createElement("button"); open.type = "button"; open.textContent = "会話を開く";
      open.addEventListener("click", () => openConversation(slip.conversation_id, true));
      out.append(title, list, summary, open);
    }); });
    const session = await api("/session");
    if (session.logged_in) { csrf = session.csrf_token; await showConsole(session.user); } else { showLogin(); }
  });
})();
