/* madoguchi web chat. Plain JavaScript, no build step, no dependencies.
 *
 * Safety rule: every text from a resident or the bot becomes DOM text nodes (or <ruby>
 * built from the catalog's {漢字|かんじ} markup); nothing is ever parsed as HTML.
 * The tracker is the source of truth: each message has an id (its tracker timestamp),
 * so replies, staff pushes, reconnects and reloads never show a message twice.
 *
 * Whose conversation it is, is the server's business: an HttpOnly cookie on the city's
 * page; embedded by widget.js (a cross-site iframe, where that cookie cannot live) a token
 * held only in this page's memory, sent in a header, with one-time tickets for the stream.
 * Nothing identifying the conversation is kept in storage or put in a URL. */
(function () {
  'use strict';

  var API = '/webhooks/web';
  var CONFIG = Object.assign({ replyTimeoutMs: 45000, slowNoticeMs: 8000, offlineNoticeMs: 2500 },
    window.MADOGUCHI || {});
  var TEXTS = window.MADOGUCHI_TEXTS;
  var VARIANTS = ['ja', 'en', 'easy'];
  var PACES = ['slow', 'normal'];   // 読み上げ: ゆっくり (the elderly pace, the default) / ふつう
  var RUBY = /\{([^{}|]+)\|([^{}|]+)\}/g;
  var PLACEHOLDER = /\{([a-z_]+)\}/g;
  var KEY = 'madoguchi.';

  // ---- small helpers -------------------------------------------------------------
  var storage = {
    get: function (name) { try { return window.localStorage.getItem(KEY + name); } catch (e) { return null; } },
    set: function (name, value) { try { window.localStorage.setItem(KEY + name, value); } catch (e) { /* private mode */ } },
    remove: function (name) { try { window.localStorage.removeItem(KEY + name); } catch (e) { /* ignore */ } }
  };

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === 'className') node.className = attrs[name];
      else if (attrs[name] !== undefined && attrs[name] !== null) node.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (child) {
      node.append(typeof child === 'string' ? document.createTextNode(child) : child);
    });
    return node;
  }

  function randomHex(bytes) {
    var values = new Uint8Array(bytes);
    window.crypto.getRandomValues(values);
    return Array.prototype.map.call(values, function (b) { return ('0' + b.toString(16)).slice(-2); }).join('');
  }

  function codePoints(text) { return Array.from(text).length; }

  function fill(template, values) {
    return template.replace(PLACEHOLDER, function (match, name) {
      return Object.prototype.hasOwnProperty.call(values || {}, name) ? String(values[name]) : match;
    });
  }

  /* Text with {漢字|かんじ} markup → text nodes and <ruby> elements. */
  function appendMarkup(parent, source) {
    var last = 0;
    var match;
    RUBY.lastIndex = 0;
    while ((match = RUBY.exec(source)) !== null) {
      if (match.index > last) parent.append(document.createTextNode(source.slice(last, match.index)));
      parent.append(el('ruby', {}, [match[1], el('rp', {}, ['(']), el('rt', {}, [match[2]]), el('rp', {}, [')'])]));
      last = RUBY.lastIndex;
    }
    if (last < source.length) parent.append(document.createTextNode(source.slice(last)));
    return parent;
  }

  function plain(source) { return source.replace(RUBY, '$1'); }

  function setMarkup(node, source) {
    node.textContent = '';
    appendMarkup(node, source);
  }

  // ---- state -----------------------------------------------------------------------
  var state = {
    embedded: /[?&]embed=1(&|$)/.test(window.location.search),
    token: null,           // the embedded page's conversation (memory only)
    kiosk: /[?&]kiosk=1(&|$)/.test(window.location.search),
    kioskTimer: null,
    countdownTimer: null,
    page: randomHex(16),
    cursor: 0,
    variant: storage.get('variant'),
    seen: new Set(),
    pending: new Map(),    // message_id -> bubble of a message not confirmed yet
    transient: [],         // bubbles of messages that are not in the tracker (queue updates)
    info: null,
    maxChars: 2000,
    stream: null,
    reconnectTimer: null,
    reconnectDelay: 2000,
    offlineTimer: null,
    offline: false,
    speaking: null,        // {node, button} of the message being read aloud (one at a time)
    pace: storage.get('pace'),
    recognition: null,
    lastFailed: null
  };
  storage.remove('sender');   // left by an older version of this page: no longer used
  if (VARIANTS.indexOf(state.variant) < 0) {
    state.variant = /^en\b/i.test(navigator.language || '') ? 'en' : 'ja';
  }

  var transcript, input, statusBox, alertBox, charCount;

  function t(key, values) {
    var table = TEXTS[state.variant] || TEXTS.ja;
    return fill(table[key] !== undefined ? table[key] : TEXTS.ja[key], values);
  }

  function infoText(key) {
    return state.info && state.info.texts[state.variant] ? state.info.texts[state.variant][key] : '';
  }

  // ---- language, text size, contrast, furigana ------------------------------------
  function htmlLang(variant) { return variant === 'en' ? 'en' : 'ja'; }

  function setVariant(variant) {
    if (VARIANTS.indexOf(variant) < 0) return;
    state.variant = variant;
    storage.set('variant', variant);
    localize();
  }

  function localize() {
    var root = document.documentElement;
    root.lang = htmlLang(state.variant);
    root.dataset.variant = state.variant;
    document.querySelectorAll('[data-i18n]').forEach(function (node) {
      setMarkup(node, t(node.dataset.i18n));
    });
    document.querySelectorAll('[data-language]').forEach(function (button) {
      button.setAttribute('aria-pressed', String(button.dataset.language === state.variant));
    });
    // Language names stay in their own language; in やさしい日本語 even 日本語 gets furigana.
    setMarkup(document.querySelector('[data-language="ja"]'), state.variant === 'easy' ? '{日本語|にほんご}' : '日本語');
    document.querySelectorAll('[data-example]').forEach(function (button) {
      setMarkup(button, t('example_' + button.dataset.example));
    });
    $('furigana-toggle').hidden = state.variant !== 'ja';
    setMarkup($('human-label'), infoText('human') || t('human'));
    document.title = plain(t('page_title', { city: plain(infoText('city') || 'サンプル市') }));
    renderInfo();
    updateCount();
    document.querySelectorAll('.msg').forEach(labelMessage);
    if (state.recognition) state.recognition.lang = speechLang(state.variant);
  }

  function applyTextSize(step) {
    step = ['1', '2', '3'].indexOf(String(step)) >= 0 ? String(step) : '1';
    document.documentElement.dataset.textSize = step;
    storage.set('textSize', step);
    document.querySelectorAll('button[data-text-size]').forEach(function (button) {
      button.setAttribute('aria-pressed', String(button.dataset.textSize === step));
    });
  }

  function applyContrast(on) {
    if (on) document.documentElement.dataset.theme = 'high-contrast';
    else delete document.documentElement.dataset.theme;
    storage.set('contrast', on ? '1' : '0');
    $('contrast-toggle').setAttribute('aria-pressed', String(on));
  }

  function applyFurigana(on) {
    document.documentElement.classList.toggle('furigana-on', on);
    storage.set('furigana', on ? '1' : '0');
    $('furigana-toggle').setAttribute('aria-pressed', String(on));
  }

  // ---- counter information ----------------------------------------------------------
  function renderInfo() {
    if (!state.info) return;
    var texts = state.info.texts[state.variant] || state.info.texts.ja;
    setMarkup($('city-name'), texts.city);
    var counter = el('span', { className: 'ruby-text' });
    appendMarkup(counter, texts.counter + '（' + texts.place + '）');
    $('info-counter').replaceChildren(counter);
    setMarkup($('info-address'), texts.address);
    setMarkup($('info-access'), texts.access);
    $('info-hours').replaceChildren.apply($('info-hours'), texts.hours.map(function (line) {
      return appendMarkup(el('li'), line);
    }));
    setMarkup($('info-closed'), texts.closed_days);
    setMarkup($('info-status'), texts.status || '');
    var phone = $('info-phone');
    phone.textContent = state.info.phone;
    phone.href = 'tel:' + state.info.phone.replace(/[^0-9+]/g, '');
  }

  function loadInfo() {
    return fetch(API + '/info', { cache: 'no-store' })
      .then(function (reply) { return reply.ok ? reply.json() : null; })
      .then(function (info) {
        if (!info) return;
        state.info = info;
        state.maxChars = info.max_chars || state.maxChars;
        localize();
      })
      .catch(function () { /* the page works without it; the bot also answers where and when */ });
  }

  // ---- transcript rendering ------------------------------------------------------------
  function who(message) {
    if (message.role === 'user') return t('who_you');
    if (message.role === 'staff') {
      var label = infoText('staff') || t('who_staff');
      var name = message.staff && message.staff.name;
      return name ? label + '（' + name + '）' : label;
    }
    return t('who_bot');
  }

  function labelMessage(node) {
    var message = node._message;
    if (!message) return;
    setMarkup(node.querySelector('.msg__who'), who(message));
    var speak = node.querySelector('.msg__speak span');
    if (speak) setMarkup(speak, t('read_aloud'));   // the state is aria-pressed, not a changing name
    var group = node.querySelector('.msg__buttons');
    if (group) group.setAttribute('aria-label', plain(t('choices')));
    var pending = node.querySelector('.msg__state');
    if (pending) setMarkup(pending, t('sending'));
  }

  function timeLabel(ts) {
    if (!ts) return null;
    var date = new Date(ts * 1000);
    return el('time', { datetime: date.toISOString() },
      [('0' + date.getHours()).slice(-2) + ':' + ('0' + date.getMinutes()).slice(-2)]);
  }

  function guessLang(text) {
    if (/[\u3040-\u30ff\u3400-\u9fff]/.test(text)) return 'ja';
    if (/[A-Za-z]{2,}/.test(text)) return 'en';
    return null;
  }

  function buildBody(message) {
    var body = el('p', { className: 'msg__body' });
    if (message.role === 'user') {
      var shown = message.title || message.text;
      body.textContent = shown;
      var lang = guessLang(shown);
      if (lang) body.lang = lang;
    } else {
      if (message.lang) body.lang = message.lang;
      if (message.ruby) {
        appendMarkup(body, message.ruby);
        if (message.variant !== 'easy') body.classList.add('ruby-optional');
      } else {
        body.textContent = message.text;
      }
    }
    return body;
  }

  function buildMessage(message) {
    var node = el('div', { className: 'msg msg--' + message.role });
    node._message = message;
    if (message.id) node.dataset.id = message.id;
    var meta = el('p', { className: 'msg__meta' }, [el('span', { className: 'msg__who' })]);
    var time = timeLabel(message.ts);
    if (time) meta.append(time);
    if (message.pendingState) meta.append(el('span', { className: 'msg__state' }));
    var bubble = el('div', { className: 'msg__bubble' }, [buildBody(message)]);
    if (message.image) {
      // A visit slip's QR code: the number is in the text too, so the picture is a convenience.
      bubble.append(el('img', { className: 'msg__image', src: message.image, width: 180, height: 180,
        alt: message.lang === 'en' ? 'QR code of your visit slip' : '来庁票のQRコード' }));
    }
    if (message.link && /^https?:\/\//.test(message.link.url)) {
      // The city's page an FAQ answer quotes: its source, opened in a new tab.
      var link = el('a', { className: 'msg__link', href: message.link.url, target: '_blank', rel: 'noopener noreferrer',
        lang: message.lang || null });
      link.textContent = message.link.title;
      bubble.append(el('p', { className: 'msg__source' }, [link]));
    }
    node.append(meta, bubble);
    if (message.role !== 'user' && message.id) addSpeakButton(node, bubble);
    if (message.buttons && message.buttons.length) {
      var group = el('div', { className: 'msg__buttons', role: 'group' });
      message.buttons.forEach(function (b) {
        var button = el('button', { type: 'button', lang: message.lang || null });
        appendMarkup(button, b.title);
        button.addEventListener('click', function () {
          send(b.payload, plain(b.title));
        });
        group.append(button);
      });
      bubble.append(group);
    }
    labelMessage(node);
    return node;
  }

  /* 読み上げ: the server reads a message it has stored (by id), so a message pushed before it
   * was stored gets its button when the stored copy arrives. */
  function addSpeakButton(node, bubble) {
    if (node.querySelector('.msg__speak')) return;
    var speak = el('button', { type: 'button', className: 'msg__speak', 'aria-pressed': 'false' }, [
      svgIcon('M4 9v6h4l5 4V5L8 9zM16 8.5a5 5 0 0 1 0 7M18.5 6a8.5 8.5 0 0 1 0 12'), el('span')]);
    speak.addEventListener('click', function () { toggleSpeech(node, speak); });
    var tools = el('div', { className: 'msg__tools' }, [speak]);
    var buttons = bubble.querySelector('.msg__buttons');
    if (buttons) bubble.insertBefore(tools, buttons); else bubble.append(tools);
    setMarkup(speak.querySelector('span'), t('read_aloud'));
  }

  function svgIcon(path) {
    var ns = 'http://www.w3.org/2000/svg';
    var svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('class', 'icon');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    var line = document.createElementNS(ns, 'path');
    line.setAttribute('d', path);
    line.setAttribute('fill', 'none');
    line.setAttribute('stroke', 'currentColor');
    line.setAttribute('stroke-width', '2');
    line.setAttribute('stroke-linejoin', 'round');
    line.setAttribute('stroke-linecap', 'round');
    svg.append(line);
    return svg;
  }

  /* Only the newest bot turn keeps its buttons: older choices are history, and a long
   * trail of stale buttons would make keyboard users tab through all of them. */
  function dropOldButtons() {
    transcript.querySelectorAll('.msg__buttons').forEach(function (group) { group.remove(); });
  }

  function addMessages(messages, transient) {
    var added = [];
    (messages || []).forEach(function (message) {
      if (message.id && state.seen.has(message.id)) return;
      if (message.id) state.seen.add(message.id);
      if (message.ts && message.ts > state.cursor) state.cursor = message.ts;
      if (message.role === 'user') {
        var bubble = message.client_id && state.pending.get(message.client_id);
        if (bubble) {   // our own message, now stored (its text may be redacted)
          state.pending.delete(message.client_id);
          confirmBubble(bubble, message);
          return;
        }
        dropOldButtons();
      } else {
        var echo = state.transient.findIndex(function (node) { return node._message.text === message.text; });
        if (echo >= 0) {   // a pushed message we already show, now stored
          var node = state.transient.splice(echo, 1)[0];
          node.dataset.id = message.id;
          node._message = Object.assign({}, node._message, { id: message.id, ts: message.ts });
          addSpeakButton(node, node.querySelector('.msg__bubble'));
          var meta = node.querySelector('.msg__meta');
          if (!meta.querySelector('time') && timeLabel(message.ts)) meta.append(timeLabel(message.ts));
          return;
        }
      }
      var built = buildMessage(message);
      transcript.append(built);
      added.push(built);
    });
    (transient || []).forEach(function (message) {
      var built = buildMessage(message);
      state.transient.push(built);
      transcript.append(built);
      added.push(built);
    });
    var last = null;
    (messages || []).concat(transient || []).forEach(function (m) {
      if (m.role !== 'user' && m.variant) last = m.variant;
    });
    if (last && last !== state.variant) setVariant(last);
    if (added.length) {
      $('intro').hidden = true;
      reveal(added[0]);
    }
    return added;
  }

  function confirmBubble(bubble, message) {
    var fresh = buildMessage(message);
    bubble._message = message;
    bubble.dataset.id = message.id;
    bubble.classList.remove('msg--pending');
    bubble.replaceChildren.apply(bubble, Array.from(fresh.childNodes));
    labelMessage(bubble);
  }

  function addPending(text, title, messageId) {
    dropOldButtons();
    var message = { role: 'user', text: text, title: title, pendingState: true };
    var node = buildMessage(message);
    node.classList.add('msg--pending');
    state.pending.set(messageId, node);
    transcript.append(node);
    $('intro').hidden = true;
    reveal(node);
    return node;
  }

  var reducedMotion = window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)');

  /* Keep the new message and the message box in view; never steal focus. */
  function reveal(first) {
    var behavior = reducedMotion && reducedMotion.matches ? 'auto' : 'smooth';
    var composer = $('composer');
    var span = composer.getBoundingClientRect().bottom - first.getBoundingClientRect().top;
    if (span < window.innerHeight) composer.scrollIntoView({ block: 'end', behavior: behavior });
    else first.scrollIntoView({ block: 'start', behavior: behavior });
  }

  // ---- status and alerts -------------------------------------------------------------
  function setStatus(key, busy) {
    state.statusKey = key;
    setMarkup(statusBox, key ? t(key) : '');
    statusBox.classList.toggle('status--busy', !!busy);
  }

  /* `message` and `actionLabel` are page texts with furigana markup, never user text. */
  function showAlert(message, actionLabel, action, kind) {
    alertBox.dataset.kind = kind || 'notice';
    alertBox.replaceChildren(appendMarkup(el('p'), message));
    if (actionLabel) {
      var button = appendMarkup(el('button', { type: 'button' }), actionLabel);
      button.addEventListener('click', action);
      alertBox.append(button);
    }
  }

  function clearAlert() { alertBox.replaceChildren(); delete alertBox.dataset.kind; }

  // ---- talking to the server -----------------------------------------------------------
  /* fetch() with the conversation's credentials: the cookie goes by itself; the embedded
   * page adds its in-memory token. */
  function api(path, options) {
    options = Object.assign({ cache: 'no-store', credentials: 'same-origin' }, options || {});
    var headers = Object.assign({}, options.headers || {});
    if (state.token) headers['X-Madoguchi-Conversation'] = state.token;
    if (options.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      options.body = JSON.stringify(options.json);
      delete options.json;
    }
    options.headers = headers;
    return fetch(API + path, options);
  }

  function postJson(path, body) {
    return api(path, { method: 'POST', json: body || {} }).then(function (reply) {
      return reply.json().catch(function () { return {}; }).then(function (data) {
        if (!reply.ok) {
          var error = new Error(data.message || ('HTTP ' + reply.status));
          error.code = data.error || ('http_' + reply.status);
          throw error;
        }
        return data;
      });
    });
  }

  /* The embedded page starts its own conversation (see the module docstring of channels/web.py). */
  function ensureConversation() {
    if (!state.embedded || state.token) return Promise.resolve();
    return postJson('/conversation', { embed: true }).then(function (data) { state.token = data.token; });
  }

  // ---- sending ------------------------------------------------------------------------
  function updateCount() {
    if (!input) return;
    var count = codePoints(input.value);
    var over = count - state.maxChars;
    setMarkup(charCount, t(over > 0 ? 'char_over' : 'char_count', { count: count, max: state.maxChars, over: over }));
    charCount.classList.toggle('is-over', over > 0);
  }

  function send(text, title) {
    var fromInput = text === undefined;
    if (fromInput) text = input.value;
    if (!text.trim()) { input.focus(); return Promise.resolve(); }
    // やさしい日本語 cannot be told from the text: a new conversation starts by asking for it.
    if (!title && state.variant === 'easy' && !transcript.querySelector('.msg--bot, .msg--staff, .msg--pending')
        && codePoints(text) <= state.maxChars) {
      return send('/change_language{"language":"easy"}', 'やさしい にほんご').then(function () {
        return send(fromInput ? undefined : text);
      });
    }
    var count = codePoints(text);
    if (count > state.maxChars) {
      showAlert(t('too_long', { count: count, max: state.maxChars }));
      input.focus();
      return Promise.resolve();
    }
    clearAlert();
    var messageId = randomHex(16);
    var bubble = addPending(text, title, messageId);
    if (fromInput) {
      input.value = '';
      storage.remove('draft');
      updateCount();
    }
    input.focus();
    setStatus('waiting', true);
    var slow = window.setTimeout(function () { setStatus('slow', true); }, CONFIG.slowNoticeMs);
    var controller = new AbortController();
    var timedOut = false;
    var deadline = window.setTimeout(function () { timedOut = true; controller.abort(); }, CONFIG.replyTimeoutMs);
    var body = { message: text, message_id: messageId, page: state.page, after: state.cursor };
    if (title) body.title = title;
    return ensureConversation().then(function () {
      return api('/message', { method: 'POST', json: body, signal: controller.signal });
    }).then(function (reply) {
      return reply.json().catch(function () { return {}; }).then(function (data) {
        if (!reply.ok) {
          var error = new Error(data.message || ('HTTP ' + reply.status));
          error.code = data.error || ('http_' + reply.status);
          throw error;
        }
        return data;
      });
    }).then(function (data) {
      addMessages(data.messages, data.transient);
      if (state.pending.has(messageId)) {   // stored but not returned (should not happen)
        state.pending.delete(messageId);
        bubble.classList.remove('msg--pending');
        var marker = bubble.querySelector('.msg__state');
        if (marker) marker.remove();
      }
      if (data.cursor > state.cursor) state.cursor = data.cursor;
      state.lastFailed = null;
      setStatus(null);
    }).catch(function (error) {
      state.pending.delete(messageId);
      bubble.remove();
      setStatus(null);
      failed(text, title, error, timedOut);
    }).finally(function () {
      window.clearTimeout(slow);
      window.clearTimeout(deadline);
    });
  }

  /* Nothing typed is lost: the text goes back into the box (and the saved draft). */
  function failed(text, title, error, timedOut) {
    state.lastFailed = { text: text, title: title };
    if (!title) {
      if (!input.value.trim()) input.value = text;
      else if (input.value.indexOf(text) < 0) input.value = text + '\n' + input.value;
      storage.set('draft', input.value);
      updateCount();
    }
    var message;
    if (timedOut) message = t('timed_out', { seconds: Math.round(CONFIG.replyTimeoutMs / 1000) });
    else if (error && error.code === 'message_too_long') message = t('too_long', { count: codePoints(text), max: state.maxChars });
    else if (error && error.code) message = t('server_error', { detail: error.message });
    else message = t('send_failed');
    showAlert(message, t('retry_send'), retryLast);
    input.focus();
  }

  function retryLast() {
    var last = state.lastFailed;
    clearAlert();
    input.focus();
    if (!last) return;
    if (last.title) send(last.text, last.title);
    else send();
  }

  // ---- history and live updates ------------------------------------------------------
  function loadHistory() {
    return ensureConversation()
      .then(function () { return api('/history?after=0'); })
      .then(function (reply) { if (!reply.ok) throw new Error('HTTP ' + reply.status); return reply.json(); })
      .then(function (data) {
        var messages = data.messages || [];
        var lastUser = -1;
        messages.forEach(function (m, i) { if (m.role === 'user') lastUser = i; });
        messages.forEach(function (m, i) { if (i < lastUser) delete m.buttons; });
        addMessages(messages, []);
        if (data.cursor > state.cursor) state.cursor = data.cursor;
      })
      .catch(function () { showAlert(t('history_failed')); });
  }

  function connect() {
    window.clearTimeout(state.reconnectTimer);
    if (state.stream) state.stream.close();
    state.stream = null;
    var query = 'page=' + state.page + '&after=' + state.cursor;
    if (!state.embedded) { openStream(API + '/events?' + query); return; }
    // EventSource cannot send a header: the embedded page asks for a one-time ticket.
    ensureConversation()
      .then(function () { return postJson('/stream-ticket'); })
      .then(function (data) { openStream(API + '/events?ticket=' + data.ticket + '&' + query); })
      .catch(function () { streamFailed(null); });
  }

  function openStream(url) {
    var stream = new EventSource(url);
    state.stream = stream;
    stream.addEventListener('ready', function () {
      state.reconnectDelay = 2000;
      window.clearTimeout(state.offlineTimer);
      state.offlineTimer = null;
      if (state.offline) {
        state.offline = false;
        if (alertBox.dataset.kind === 'offline') clearAlert();
        setStatus('reconnected');
      }
    });
    stream.addEventListener('messages', function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      var added = addMessages(data.messages, data.transient);
      if (added.length && !statusBox.classList.contains('status--busy')) setStatus('received');
    });
    stream.addEventListener('reset', function () {
      // The conversation was deleted (in another tab): this screen starts afresh too.
      clearScreen();
      setStatus('deleted_elsewhere');
    });
    stream.onerror = function () {
      if (stream.readyState === EventSource.CLOSED) streamFailed(stream);   // the browser gave up: we retry
      else if (!state.offlineTimer && !state.offline) {
        state.offlineTimer = window.setTimeout(goOffline, CONFIG.offlineNoticeMs);
      }
    };
  }

  /* The stream was refused or lost. Ask the server why (too many tabs, a busy server) so
   * the resident reads a polite note instead of "offline", and try again later. */
  function streamFailed(stream) {
    if (stream && state.stream !== stream) return;
    var retry = function () {
      state.reconnectTimer = window.setTimeout(connect, state.reconnectDelay);
      state.reconnectDelay = Math.min(state.reconnectDelay * 2, 30000);
    };
    api('/events?check=1').then(function (reply) {
      if (reply.status === 429 || reply.status === 503) {
        window.clearTimeout(state.offlineTimer);
        state.offlineTimer = null;
        state.offline = true;
        state.reconnectDelay = Math.max(state.reconnectDelay, 15000);
        showAlert(t(reply.status === 429 ? 'too_many_tabs' : 'server_busy'), t('reconnect'),
          function () { clearAlert(); connect(); input.focus(); }, 'offline');
      } else if (!state.offlineTimer && !state.offline) {
        state.offlineTimer = window.setTimeout(goOffline, CONFIG.offlineNoticeMs);
      }
    }).catch(function () {
      if (!state.offlineTimer && !state.offline) state.offlineTimer = window.setTimeout(goOffline, CONFIG.offlineNoticeMs);
    }).then(retry);
  }

  function goOffline() {
    state.offlineTimer = null;
    if (state.stream && state.stream.readyState === EventSource.OPEN) return;
    state.offline = true;
    showAlert(t('offline'), t('reconnect'), function () { clearAlert(); connect(); input.focus(); }, 'offline');
  }

  // ---- voice: read aloud (the server's voice) and microphone ------------------------------
  /* Kiosk Chromium on Linux has no speech voice of its own: the server speaks (Open JTalk or
   * gTTS) and one <audio> element plays it, so only one message is read at a time. */
  function speechLang(variant) { return variant === 'en' ? 'en-US' : 'ja-JP'; }

  function applyPace(pace) {
    state.pace = PACES.indexOf(pace) >= 0 ? pace : 'slow';
    storage.set('pace', state.pace);
    document.querySelectorAll('button[data-pace]').forEach(function (button) {
      button.setAttribute('aria-pressed', String(button.dataset.pace === state.pace));
    });
  }

  /* A new pace applies at once: the message being read starts again at that pace. */
  function choosePace(pace) {
    if (pace === state.pace) return;
    applyPace(pace);
    var speaking = state.speaking;
    if (speaking) readAloud(speaking.node, speaking.button);
  }

  function toggleSpeech(node, button) {
    if (state.speaking && state.speaking.node === node) { stopSpeaking(); return; }
    readAloud(node, button);
  }

  function readAloud(node, button) {
    stopSpeaking();
    var speaking = { node: node, button: button };
    state.speaking = speaking;
    button.setAttribute('aria-pressed', 'true');
    button.classList.add('is-active');
    $('stop-speaking').hidden = false;
    setStatus('speech_loading', true);
    postJson('/speech', { id: node._message.id, pace: state.pace }).then(function (data) {
      if (state.speaking !== speaking) return null;   // stopped, or another message chosen meanwhile
      var audio = $('speech-audio');
      audio.src = data.url;
      return audio.play().then(function () {
        if (state.speaking === speaking) setStatus('speech_playing');
      });
    }).catch(function (error) {
      if (state.speaking !== speaking) return;          // a pause() of ours interrupted play(): not an error
      stopSpeaking();
      var code = error && error.code;
      showAlert(t(code === 'no_voice' ? 'speech_no_voice' : code === 'too_many_requests' ? 'speech_too_many' : 'speech_failed'));
    });
  }

  function stopSpeaking() {
    var speaking = state.speaking;
    state.speaking = null;
    var audio = $('speech-audio');
    if (audio && audio.getAttribute('src')) {
      audio.pause();
      audio.removeAttribute('src');   // stops the download too
      audio.load();
    }
    $('stop-speaking').hidden = true;
    if (speaking) {
      speaking.button.setAttribute('aria-pressed', 'false');
      speaking.button.classList.remove('is-active');
      if (state.statusKey === 'speech_playing' || state.statusKey === 'speech_loading') setStatus(null);
    }
  }

  function setupMicrophone() {
    var Recognition = window.SpeechRecognition || window.webkitSpeechRecognition;
    var button = $('mic-button');
    if (!Recognition) { button.hidden = true; $('mic-notice').hidden = true; return; }
    button.hidden = false;
    $('mic-notice').hidden = false;   // where the voice goes, said before anyone presses the button
    var listening = false;
    var base = '';
    button.addEventListener('click', function () {
      if (listening) { state.recognition && state.recognition.stop(); return; }
      var recognition = new Recognition();
      recognition.lang = speechLang(state.variant);
      recognition.interimResults = true;
      recognition.continuous = false;
      base = input.value ? input.value.replace(/\s*$/, ' ') : '';
      recognition.onresult = function (event) {
        var heard = '';
        for (var i = 0; i < event.results.length; i += 1) heard += event.results[i][0].transcript;
        input.value = base + heard;
        updateCount();
      };
      recognition.onerror = function (event) {
        if (event.error !== 'no-speech' && event.error !== 'aborted') showAlert(t('mic_error'));
      };
      recognition.onend = function () {
        listening = false;
        state.recognition = null;
        button.classList.remove('is-active');
        setMarkup($('mic-label'), t('mic'));
        $('mic-label').dataset.i18n = 'mic';
        setStatus(null);
        storage.set('draft', input.value);
        input.focus();
      };
      try {
        recognition.start();
      } catch (e) {
        showAlert(t('mic_error'));
        return;
      }
      listening = true;
      state.recognition = recognition;
      button.classList.add('is-active');
      $('mic-label').dataset.i18n = 'mic_stop';
      setMarkup($('mic-label'), t('mic_stop'));
      setStatus('listening');
    });
  }

  // ---- print, save, new conversation ---------------------------------------------------------
  function now() {
    var d = new Date();
    var pad = function (n) { return ('0' + n).slice(-2); };
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + pad(d.getHours()) + ':' + pad(d.getMinutes());
  }

  function transcriptText() {
    var lines = [plain(t('saved_title', { city: plain(infoText('city') || '') })), plain(t('saved_at', { when: now() }))];
    if (state.info) {
      var texts = state.info.texts[state.variant] || state.info.texts.ja;
      lines.push(plain(t('counter')) + ': ' + plain(texts.counter + '（' + texts.place + '）'));
      lines.push(plain(t('address')) + ': ' + plain(texts.address));
      lines.push(plain(t('hours')) + ': ' + texts.hours.map(plain).join(' / '));
      lines.push(plain(t('phone')) + ': ' + state.info.phone);
    }
    lines.push('');
    transcript.querySelectorAll('.msg').forEach(function (node) {
      var message = node._message;
      var time = node.querySelector('time');
      var text = message.role === 'user' ? (message.title || message.text)
        : (message.variant === 'easy' && message.ruby ? message.text : plain(message.ruby || message.text));
      lines.push('[' + (time ? time.textContent : '--:--') + '] ' + plain(who(message)));
      lines.push(text.replace(/\r?\n/g, '\r\n'));
      lines.push('');
    });
    return lines.join('\r\n');
  }

  function saveTranscript() {
    var blob = new Blob(['\ufeff' + transcriptText()], { type: 'text/plain;charset=utf-8' });
    var link = el('a', { href: URL.createObjectURL(blob), download: 'madoguchi-' + now().replace(/[^0-9]/g, '').slice(0, 12) + '.txt' });
    document.body.append(link);
    link.click();
    link.remove();
    window.setTimeout(function () { URL.revokeObjectURL(link.href); }, 10000);
  }

  var infoWasOpen = false;
  function beforePrint() {
    infoWasOpen = $('counter-info').open;
    $('counter-info').open = true;
    setMarkup($('print-stamp'), t('printed_at', { when: now() }));
  }
  function afterPrint() { $('counter-info').open = infoWasOpen; }

  /* Everything of the previous conversation leaves the screen (and the saved draft). */
  function clearScreen() {
    stopSpeaking();
    storage.remove('draft');
    state.cursor = 0;
    state.seen.clear();
    state.pending.clear();
    state.transient = [];
    state.lastFailed = null;
    transcript.replaceChildren();
    $('intro').hidden = false;
    input.value = '';
    updateCount();
    clearAlert();
    setStatus(null);
  }

  /* A new conversation on the server (new cookie, or a new token when embedded), then a clean screen. */
  function startAfresh() {
    var request = state.embedded
      ? postJson('/conversation', { embed: true }).then(function (data) { state.token = data.token; })
      : postJson('/conversation');
    return request.then(function () {
      clearScreen();
      connect();
    });
  }

  function newConversation() {
    if (!window.confirm(plain(t('confirm_new')))) return;
    startAfresh().then(function () { input.focus(); }, function () { showAlert(t('send_failed')); });
  }

  // ---- deleting the conversation -------------------------------------------------------------
  function openDeleteDialog() {
    var dialog = $('delete-dialog');
    dialog.showModal();
    $('delete-cancel').focus();   // the safe choice first
  }

  function closeDeleteDialog() {
    $('delete-dialog').close();
  }

  function deleteConversation() {
    var confirmButton = $('delete-confirm');
    confirmButton.disabled = true;
    return postJson('/delete', { language: state.variant, page: state.page }).then(function (data) {
      if (data.token) state.token = data.token;
      closeDeleteDialog();
      clearScreen();
      var message = data.message || {};
      setMarkup(statusBox, message.variant === 'easy' && message.ruby ? message.ruby : (message.text || t('deleted')));
      statusBox.lang = message.lang || htmlLang(state.variant);
      connect();
      input.focus();
    }, function () {
      closeDeleteDialog();
      showAlert(t('delete_failed'));
      $('delete-button').focus();
    }).finally(function () { confirmButton.disabled = false; });
  }

  // ---- kiosk: a visible countdown, then the next resident starts afresh -----------------------
  function kioskSetting(name, fallback) {
    var fromPage = CONFIG[name === 'idle' ? 'kioskIdleSeconds' : 'kioskCountdownSeconds'];
    var fromServer = state.info && state.info.kiosk && state.info.kiosk[name === 'idle' ? 'idle_seconds' : 'countdown_seconds'];
    return Number(fromPage || fromServer || fallback);
  }

  function kioskActivity() {
    if (!state.kiosk) return;
    if (!$('kiosk-countdown').hidden) hideCountdown();
    window.clearTimeout(state.kioskTimer);
    state.kioskTimer = window.setTimeout(showCountdown, kioskSetting('idle', 120) * 1000);
  }

  function showCountdown() {
    if (!transcript.querySelector('.msg') && !input.value) { kioskActivity(); return; }   // nothing to hide
    var left = kioskSetting('countdown', 30);
    var box = $('kiosk-countdown');
    var tick = function () {
      setMarkup($('kiosk-seconds'), t('kiosk_seconds', { seconds: left }));
      if (left === kioskSetting('countdown', 30) || left === 10) {
        setMarkup($('kiosk-live'), t('kiosk_warning', { seconds: left }));
      }
      if (left <= 0) { kioskReset(); return; }
      left -= 1;
      state.countdownTimer = window.setTimeout(tick, 1000);
    };
    box.hidden = false;
    tick();
    $('kiosk-continue').focus();
  }

  function hideCountdown() {
    window.clearTimeout(state.countdownTimer);
    $('kiosk-countdown').hidden = true;
    $('kiosk-live').textContent = '';
  }

  function kioskReset() {
    hideCountdown();
    var dialog = $('delete-dialog');
    if (dialog.open) dialog.close();
    state.variant = /^en\b/i.test(navigator.language || '') ? 'en' : 'ja';
    storage.remove('variant');
    localize();
    startAfresh().then(function () {
      setStatus('kiosk_reset');
      input.focus();
      kioskActivity();
    }, function () {
      clearScreen();   // the screen is cleared even when the server cannot be reached
      kioskActivity();
    });
  }

  function startKiosk() {
    state.kiosk = state.kiosk || !!(state.info && state.info.kiosk && state.info.kiosk.enabled);
    if (!state.kiosk) return;
    document.documentElement.classList.add('kiosk');
    ['pointerdown', 'keydown', 'input', 'wheel', 'touchstart'].forEach(function (name) {
      document.addEventListener(name, kioskActivity, { capture: true, passive: true });
    });
    $('kiosk-continue').addEventListener('click', function () { hideCountdown(); kioskActivity(); input.focus(); });
    kioskActivity();
  }

  // ---- wiring ---------------------------------------------------------------------------------
  function start() {
    transcript = $('transcript');
    input = $('message-input');
    statusBox = $('status');
    alertBox = $('alert');
    charCount = $('char-count');
    if (window.self !== window.top) document.documentElement.classList.add('embedded');

    applyTextSize(storage.get('textSize') || '1');
    var contrast = storage.get('contrast');
    applyContrast(contrast === null ? !!(window.matchMedia && window.matchMedia('(prefers-contrast: more)').matches) : contrast === '1');
    applyFurigana(storage.get('furigana') === '1');
    applyPace(state.pace);
    input.value = storage.get('draft') || '';
    localize();

    $('composer').addEventListener('submit', function (event) { event.preventDefault(); send(); });
    input.addEventListener('keydown', function (event) {
      // Enter sends; Shift+Enter is a new line; Enter that confirms a kana-kanji conversion does nothing.
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        send();
      } else if (event.key === 'Escape') {
        stopSpeaking();
      }
    });
    input.addEventListener('input', function () { storage.set('draft', input.value); updateCount(); });

    document.querySelectorAll('[data-language]').forEach(function (button) {
      button.addEventListener('click', function () {
        var language = button.dataset.language;
        setVariant(language);
        send('/change_language{"language":"' + language + '"}', button.textContent.trim());
      });
    });
    $('human-button').addEventListener('click', function () {
      send('/request_human', plain(infoText('human') || t('human')));
    });
    document.querySelectorAll('button[data-text-size]').forEach(function (button) {
      button.addEventListener('click', function () { applyTextSize(button.dataset.textSize); });
    });
    $('contrast-toggle').addEventListener('click', function () {
      applyContrast(document.documentElement.dataset.theme !== 'high-contrast');
    });
    $('furigana-toggle').addEventListener('click', function () {
      applyFurigana(!document.documentElement.classList.contains('furigana-on'));
    });
    document.querySelectorAll('[data-example]').forEach(function (button) {
      button.addEventListener('click', function () { send(plain(t('example_' + button.dataset.example))); });
    });
    $('stop-speaking').addEventListener('click', function () { stopSpeaking(); input.focus(); });
    document.querySelectorAll('button[data-pace]').forEach(function (button) {
      button.addEventListener('click', function () { choosePace(button.dataset.pace); });
    });
    $('speech-audio').addEventListener('ended', stopSpeaking);
    $('speech-audio').addEventListener('error', function () {
      if (state.speaking && $('speech-audio').getAttribute('src')) { stopSpeaking(); showAlert(t('speech_failed')); }
    });
    $('print-button').addEventListener('click', function () { window.print(); });
    $('save-button').addEventListener('click', saveTranscript);
    $('new-button').addEventListener('click', newConversation);
    $('delete-button').addEventListener('click', openDeleteDialog);
    $('delete-cancel').addEventListener('click', function () { closeDeleteDialog(); $('delete-button').focus(); });
    $('delete-confirm').addEventListener('click', deleteConversation);
    window.addEventListener('beforeprint', beforePrint);
    window.addEventListener('afterprint', afterPrint);
    window.addEventListener('pagehide', stopSpeaking);
    setupMicrophone();

    loadInfo().then(startKiosk);
    loadHistory().then(connect);
  }

  window.madoguchiChat = { state: state };   // for tests and the voice issue's hooks
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
}());
