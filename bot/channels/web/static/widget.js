/*
 * Aftercare Assistant chat widget. One tag on every page of the clinic's site:
 *   <script src="https://<bot address>/webhooks/web/widget.js" defer></script>
 * Optional attributes: data-open="true" (open at once), data-position="left",
 * data-code-param="code" (the page parameter carrying a clinic link code).
 *
 * No dependencies, no build step. Every label and message comes from the bot's /config
 * (the clinic's phrases); every message is shown as text (never parsed as HTML).
 */
(function () {
  "use strict";
  if (window.AftercareChat) return; // the tag was pasted twice
  var script = document.currentScript;
  if (!script || !script.src) return;

  var API = new URL("./", script.src).href;
  var CODE_PARAM = script.getAttribute("data-code-param") || "code";
  var START_OPEN = script.getAttribute("data-open") === "true";
  var POSITION = script.getAttribute("data-position") === "left" ? "left" : "right";
  var KEY = "aftercare-chat:" + new URL(API).host;
  var SEEN_KEY = "aftercare-seen:" + new URL(API).host; // how far the chat was seen
  var BANNER_HOURS = 24; // an escalation banner stays this long after the message
  var REPLIES_HOURS = 1; // quick replies of an older last message are not offered again
  var LEVEL_RANK = { urgent: 1, emergency: 2 };

  var store = storage("localStorage"); // the chat token: kept across visits and pages
  var tabStore = storage("sessionStorage"); // open or closed, a pending link code: this tab

  var state = {
    config: null,
    token: store.get(KEY),
    cursor: 0,
    ids: {},
    session: null, // a promise while the chat is loading
    sending: false,
    pending: null, // the bubble of the message being sent
    unread: 0,
    checkins: null, // check-in messages on or off for this chat (from /session)
    switching: false,
    open: false,
    openWhenReady: false,
    pollTimer: null,
  };
  var ui = {};

  function storage(name) {
    // Storage can be blocked (privacy settings; even reading window.localStorage throws):
    // then the chat lasts for this page only.
    var memory = {};
    var area = null;
    try { area = window[name]; } catch (e) { area = null; }
    return {
      get: function (k) {
        try { return area ? area.getItem(k) : memory[k] || null; } catch (e) { return memory[k] || null; }
      },
      set: function (k, v) {
        try { if (area) area.setItem(k, v); else memory[k] = v; } catch (e) { memory[k] = v; }
      },
      remove: function (k) {
        delete memory[k];
        try { if (area) area.removeItem(k); } catch (e) { /* ignore */ }
      },
    };
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === "text") node.textContent = attrs[name];
      else if (name === "hidden") node.hidden = attrs[name];
      else node.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (child) { node.appendChild(child); });
    return node;
  }

  function text(name, values) {
    var phrase = (state.config && state.config.text[name]) || "";
    Object.keys(values || {}).forEach(function (k) {
      phrase = phrase.split("{" + k + "}").join(String(values[k]));
    });
    return phrase;
  }

  function request(method, path, body) {
    var init = { method: method, mode: "cors", credentials: "omit", cache: "no-store" };
    if (body !== undefined) {
      // text/plain keeps this a CORS "simple" request: no preflight needed.
      init.headers = { "Content-Type": "text/plain;charset=UTF-8" };
      init.body = JSON.stringify(body);
    }
    return fetch(API + path, init).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { status: response.status, data: data };
      });
    });
  }

  // --- building the widget ------------------------------------------------------------

  function build(config) {
    var host = el("div", { id: "aftercare-chat", "data-position": POSITION });
    host.style.setProperty("--aa-accent", config.colour);
    host.style.setProperty("--aa-on-accent", config.text_colour);
    var root = host.attachShadow({ mode: "open" });
    root.appendChild(el("link", { rel: "stylesheet", href: API + "widget.css" }));

    ui.badge = el("span", { class: "badge", "aria-hidden": "true", hidden: true });
    ui.launcher = el("button", {
      type: "button",
      class: "launcher " + POSITION,
      "aria-haspopup": "dialog",
      "aria-expanded": "false",
      "aria-controls": "aa-panel",
      "aria-label": text("launcher"),
    }, [chatIcon(), ui.badge]);

    ui.close = el("button", { type: "button", class: "close", "aria-label": text("close") }, [
      el("span", { "aria-hidden": "true", text: "\u00d7" }),
    ]);
    ui.newChat = el("button", { type: "button", class: "new-chat", text: text("new_chat") });
    ui.human = el("button", { type: "button", class: "new-chat", text: text("talk_to_person") });
    // A switch: its name stays, aria-pressed (and the On/Off beside it) says the state.
    ui.checkinsState = el("span", { class: "toggle-state", "aria-hidden": "true" });
    ui.checkins = el("button", {
      type: "button",
      class: "new-chat toggle",
      "aria-pressed": "true",
      "aria-describedby": "aa-checkins-hint",
      title: text("checkins_hint"),
      hidden: true,
    }, [el("span", { text: text("checkins_label") }), ui.checkinsState]);
    var header = el("header", {}, [
      el("div", { class: "titles" }, [
        el("h2", { id: "aa-title", text: config.clinic_name }),
        el("p", { id: "aa-subtitle", text: text("subtitle") }),
        el("div", { class: "header-buttons" }, [ui.human, ui.newChat, ui.checkins]),
        el("span", { id: "aa-checkins-hint", class: "sr-only", text: text("checkins_hint") }),
      ]),
      ui.close,
    ]);
    ui.confirmNo = el("button", { type: "button", class: "reply", text: text("forget_no") });
    ui.confirmYes = el("button", { type: "button", class: "reply danger", text: text("forget_yes") });
    ui.confirm = el("div", { class: "confirm", role: "group", "aria-labelledby": "aa-confirm", hidden: true }, [
      el("p", { id: "aa-confirm", text: text("forget_confirm") }),
      el("div", { class: "confirm-buttons" }, [ui.confirmYes, ui.confirmNo]),
    ]);
    ui.bannerText = el("span", { class: "banner-text" });
    ui.bannerCall = el("a", { class: "banner-call", hidden: true });
    ui.banner = el("div", { class: "banner", role: "alert", hidden: true }, [ui.bannerText, ui.bannerCall]);
    ui.log = el("div", {
      class: "log",
      role: "log",
      "aria-live": "polite",
      "aria-relevant": "additions",
      "aria-label": text("dialog"),
      tabindex: "0",
    });
    ui.typing = el("div", { class: "typing", role: "status", "aria-live": "polite" });
    ui.replies = el("div", { class: "replies", hidden: true });
    ui.input = el("textarea", {
      id: "aa-input",
      rows: "2",
      placeholder: text("placeholder"),
      "aria-describedby": "aa-notice aa-counter",
      autocomplete: "off",
    });
    ui.send = el("button", { type: "submit", class: "send", text: text("send") });
    ui.notice = el("p", { id: "aa-notice", class: "notice", role: "alert", hidden: true });
    ui.counter = el("span", { id: "aa-counter", class: "counter", hidden: true });
    ui.form = el("form", { class: "composer", novalidate: "" }, [
      el("label", { for: "aa-input", class: "sr-only", text: text("input_label") }),
      ui.input,
      ui.send,
      ui.counter,
      ui.notice,
    ]);
    ui.panel = el("section", {
      id: "aa-panel",
      class: "panel " + POSITION,
      role: "dialog",
      "aria-modal": "false",
      "aria-labelledby": "aa-title",
      "aria-describedby": "aa-subtitle",
      hidden: true,
    }, [header, ui.confirm, ui.banner, ui.log, ui.typing, ui.replies, ui.form]);

    root.appendChild(ui.panel);
    root.appendChild(ui.launcher);
    document.body.appendChild(host);

    ui.launcher.addEventListener("click", function () { state.open ? close() : open(true); });
    ui.newChat.addEventListener("click", function () {
      ui.confirm.hidden = false;
      ui.confirmNo.focus(); // the safe choice first
    });
    ui.confirmNo.addEventListener("click", function () {
      ui.confirm.hidden = true;
      ui.newChat.focus();
    });
    ui.confirmYes.addEventListener("click", forgetChat);
    ui.checkins.addEventListener("click", switchCheckins);
    // "Talk to a person": the same request as typing it, or /human on Telegram.
    ui.human.addEventListener("click", function () {
      sendButton({ payload: "/request_human", title: text("talk_to_person") });
    });
    ui.close.addEventListener("click", close);
    ui.panel.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { event.preventDefault(); close(); }
    });
    ui.form.addEventListener("submit", function (event) {
      event.preventDefault();
      sendText();
    });
    ui.input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        sendText();
      }
    });
    ui.input.addEventListener("input", updateCounter);
  }

  function chatIcon() {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z");
    svg.appendChild(path);
    return svg;
  }

  // --- opening and closing ------------------------------------------------------------

  function open(byUser) {
    state.open = true;
    tabStore.set(KEY + ":open", "1");
    ui.panel.hidden = false;
    ui.launcher.setAttribute("aria-expanded", "true");
    setUnread(0);
    ensureSession().then(function () {
      markSeen();
      scrollToEnd();
    }, function () { /* the notice says so */ });
    if (byUser) ui.input.focus(); // not on page load: no stolen focus, no phone keyboard
  }

  function close() {
    state.open = false;
    tabStore.set(KEY + ":open", "0");
    ui.panel.hidden = true;
    ui.launcher.setAttribute("aria-expanded", "false");
    ui.launcher.focus();
  }

  function setUnread(count) {
    state.unread = count;
    ui.badge.hidden = count === 0;
    ui.badge.textContent = count > 9 ? "9+" : String(count);
    ui.launcher.setAttribute(
      "aria-label",
      count ? text("launcher") + ". " + text("unread", { count: count }) : text("launcher")
    );
  }

  // How far the client has seen this chat (the cursor while the panel was open), kept across
  // visits: bot messages after it (e.g. a check-in sent meanwhile) count as unread.
  function seenUpTo() {
    var value = Number(store.get(SEEN_KEY));
    return value > 0 ? value : null;
  }

  function markSeen() {
    if (state.open || seenUpTo() === null) store.set(SEEN_KEY, String(state.cursor));
  }

  // --- the conversation ---------------------------------------------------------------

  function takeCode() {
    // A clinic link code in the page address: removed from the address at once (so it isn't
    // bookmarked, shared or sent on as a referrer), kept in this tab until it was used.
    var url = new URL(window.location.href);
    var code = url.searchParams.get(CODE_PARAM);
    if (code) {
      url.searchParams.delete(CODE_PARAM);
      try { window.history.replaceState(window.history.state, "", url.href); } catch (e) { /* ignore */ }
      tabStore.set(KEY + ":code", code);
    }
    return tabStore.get(KEY + ":code");
  }

  // The chat a token names (its first part; the rest is its expiry and signature).
  function chatOf(token) {
    return token ? String(token).split(".")[0] : null;
  }

  function ensureSession() {
    if (state.session) return state.session;
    var code = tabStore.get(KEY + ":code");
    var body = { token: state.token };
    if (code) body.code = code;
    showTyping(true);
    state.session = request("POST", "session", body).then(function (result) {
      showTyping(false);
      if (result.status !== 200 || !result.data.token) throw new Error("session " + result.status);
      tabStore.remove(KEY + ":code");
      // A new chat (another person's link, or the old one ended); each visit renews the token.
      var another = chatOf(result.data.token) !== chatOf(state.token);
      if (another) clearChat();
      state.token = result.data.token;
      store.set(KEY, state.token);
      render(result.data.messages, { initial: true });
      showCheckins(result.data.checkins);
      if (another && state.pending) ui.log.appendChild(state.pending); // the message being sent
      state.cursor = Math.max(state.cursor, result.data.cursor || 0);
      schedulePoll();
    }).catch(function (error) {
      showTyping(false);
      state.session = null;
      showNotice(text("send_failed"));
      throw error;
    });
    return state.session;
  }

  function sendText() {
    var value = ui.input.value.trim();
    if (!value) { showNotice(text("empty")); return; }
    if (Array.from(value).length > state.config.max_length) { showNotice(text("too_long")); return; }
    if (state.sending) return;
    ui.input.value = "";
    updateCounter();
    deliver({ text: value }, value);
  }

  function sendButton(button, buttons) {
    if (state.sending) return;
    clearReplies();
    ui.input.focus();
    deliver({ payload: button.payload, title: button.title }, button.title, buttons);
  }

  function deliver(body, shown, buttons) {
    hideNotice();
    state.sending = true;
    // Not `disabled`: a disabled button that has focus drops it to the page.
    ui.send.setAttribute("aria-disabled", "true");
    var bubble = addMessage({ from: "client", text: shown, time: Date.now() / 1000 }, true);
    state.pending = bubble;
    showTyping(true);
    ensureSession().then(function () {
      body.token = state.token;
      body.after = state.cursor;
      return request("POST", "message", body);
    }).then(function (result) {
      if (result.status === 200) {
        render(result.data.messages);
        if (result.data.error) showNotice(result.data.message || text("error"));
        return;
      }
      if (result.status === 401) endChat(); // the next Send starts a new chat
      failed(result.data.message || text("send_failed"));
    }).catch(function () {
      // Unknown whether it arrived: if it did, the next poll shows it with its reply.
      failed(text("send_failed"));
    }).then(function () {
      if (state.pending === bubble) state.pending = null;
      bubble.classList.remove("pending");
      showTyping(false);
      state.sending = false;
      ui.send.removeAttribute("aria-disabled");
      scrollToEnd();
    });

    function failed(message) {
      if (!bubble.dataset.id) bubble.remove();
      if (body.text !== undefined && !ui.input.value) ui.input.value = body.text; // nothing lost
      if (buttons) showReplies(buttons); // the question is still open
      updateCounter();
      showNotice(message);
    }
  }

  // Show messages not shown yet. options.initial: the history when the chat loads (not
  // announced one by one; unread only after what the client saw); options.poll: messages
  // that came later.
  function render(messages, options) {
    options = options || {};
    var fresh = 0;
    var seen = seenUpTo();
    var latest = null; // the newest message of this batch: its buttons are offered
    if (options.initial) ui.log.setAttribute("aria-live", "off");
    (messages || []).forEach(function (message) {
      if (state.ids[message.id]) return;
      state.ids[message.id] = true;
      latest = message;
      state.cursor = Math.max(state.cursor, message.time);
      var pending = state.pending;
      if (pending && message.from === "client" && !pending.dataset.id && same(message.text, pending.dataset.text)) {
        pending.dataset.id = message.id; // the message being sent, as the bot stored it
        setTime(pending, message.time);
        return;
      }
      addMessage(message, false);
      if (message.from === "bot" && (options.poll || (seen !== null && message.time > seen))) fresh += 1;
    });
    if (options.initial) window.setTimeout(function () { ui.log.setAttribute("aria-live", "polite"); }, 0);
    if (latest && latest.from === "client") clearReplies();
    else if (latest && latest.buttons.length) {
      // A check-in's quick replies stay while it may be answered.
      var hours = latest.checkin ? state.config.checkin_reply_hours : REPLIES_HOURS;
      var recent = Date.now() / 1000 - latest.time < hours * 3600;
      if (!options.initial || recent) showReplies(latest.buttons);
    } else if (latest && !options.poll) clearReplies(); // a notice later leaves the offer open
    if (!state.open && fresh) setUnread(state.unread + fresh);
    markSeen();
    updateBanner(!options.initial);
    scrollToEnd();
  }

  function same(a, b) {
    // As the bot stores a message: whitespace collapsed, no leading slashes.
    function norm(t) { return String(t).replace(/\s+/g, " ").replace(/^[\s/]+/, "").trim(); }
    return norm(a) === norm(b);
  }

  function addMessage(message, pending) {
    var who = message.from === "bot" ? "bot" : "client";
    var node = el("div", { class: "message " + who + (pending ? " pending" : "") }, [
      el("span", { class: "sr-only", text: text(who === "bot" ? "bot_said" : "you_said") + ": " }),
      el("p", { class: "text", text: message.text }),
      el("time", {}),
    ]);
    if (message.id) node.dataset.id = message.id;
    if (pending) node.dataset.text = message.text;
    if (message.escalation) {
      node.dataset.escalation = message.escalation;
      node.classList.add("escalated", message.escalation);
      if (message.alert_unsent) node.dataset.unsent = "1"; // the team could not be alerted
    }
    setTime(node, message.time);
    ui.log.appendChild(node);
    return node;
  }

  function setTime(node, seconds) {
    var when = new Date(seconds * 1000);
    var sameDay = when.toDateString() === new Date().toDateString();
    var format = sameDay
      ? { hour: "2-digit", minute: "2-digit" }
      : { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" };
    var stamp = node.querySelector("time");
    stamp.setAttribute("datetime", when.toISOString());
    stamp.textContent = new Intl.DateTimeFormat(undefined, format).format(when);
    node.dataset.time = String(seconds);
  }

  function updateBanner(announce) {
    var now = Date.now() / 1000;
    var level = null, unsent = false;
    Array.prototype.forEach.call(ui.log.querySelectorAll(".message.escalated"), function (node) {
      var recent = now - Number(node.dataset.time) < BANNER_HOURS * 3600;
      var found = node.dataset.escalation;
      if (!recent || (level && LEVEL_RANK[found] < LEVEL_RANK[level])) return;
      level = found;
      unsent = node.dataset.unsent === "1"; // the latest message at that level says
    });
    if (!level) { ui.banner.hidden = true; return; }
    var key = level === "urgent" && unsent ? "urgent_unsent" : level;
    if (ui.banner.dataset.key === key && !ui.banner.hidden) return; // announced once
    ui.banner.dataset.level = level;
    ui.banner.dataset.key = key;
    ui.banner.className = "banner " + level;
    // Read out when it is new, not on every page of the site.
    if (announce) ui.banner.setAttribute("role", "alert");
    else ui.banner.removeAttribute("role");
    ui.bannerText.textContent = text("banner_" + key);
    var number = state.config.emergency_number;
    ui.bannerCall.hidden = level !== "emergency";
    ui.bannerCall.textContent = number;
    ui.bannerCall.setAttribute("href", "tel:" + number.replace(/[^0-9+]/g, ""));
    ui.banner.hidden = false;
  }

  function showReplies(buttons) {
    clearReplies();
    buttons.forEach(function (button) {
      var node = el("button", { type: "button", class: "reply", text: button.title });
      node.addEventListener("click", function () { sendButton(button, buttons); });
      ui.replies.appendChild(node);
    });
    ui.replies.hidden = false;
  }

  function clearReplies() {
    ui.replies.textContent = "";
    ui.replies.hidden = true;
  }

  function showTyping(on) {
    ui.typing.textContent = "";
    ui.typing.classList.toggle("on", on);
    if (on) {
      ui.typing.appendChild(el("span", { class: "dots", "aria-hidden": "true" }, [
        el("span"), el("span"), el("span"),
      ]));
      ui.typing.appendChild(el("span", { class: "sr-only", text: text("typing") }));
    }
  }

  function showNotice(message) {
    ui.notice.textContent = message;
    ui.notice.hidden = false;
  }

  function hideNotice() {
    ui.notice.hidden = true;
    ui.notice.textContent = "";
  }

  function updateCounter() {
    var used = Array.from(ui.input.value).length;
    var max = state.config.max_length;
    ui.counter.hidden = used < max * 0.8;
    ui.counter.textContent = used + " / " + max;
    ui.counter.classList.toggle("over", used > max);
  }

  function scrollToEnd() {
    ui.log.scrollTop = ui.log.scrollHeight;
  }

  // --- a new chat (a shared computer; "forget me") -----------------------------------

  function forgetChat() {
    ui.confirm.hidden = true;
    var token = state.token;
    var done = token ? request("POST", "forget", { token: token }) : Promise.resolve({ status: 200 });
    done.then(function (result) {
      // 401: the server no longer knows this token; there is nothing left to delete there.
      if (result.status !== 200 && result.status !== 401) throw new Error("forget " + result.status);
      store.remove(KEY);
      state.token = null;
      state.session = null;
      clearChat();
      return ensureSession();
    }).then(function () {
      ui.input.focus();
    }).catch(function () { showNotice(text("send_failed")); });
  }

  // The server no longer accepts this chat's token (expired, or the clinic changed its key).
  function endChat() {
    state.session = null;
    state.token = null;
    showCheckins(null);
  }

  function clearChat() {
    ui.log.textContent = "";
    state.ids = {};
    state.cursor = 0;
    store.remove(SEEN_KEY);
    clearReplies();
    hideNotice();
    ui.banner.hidden = true;
    delete ui.banner.dataset.level;
    delete ui.banner.dataset.key;
    setUnread(0);
  }

  // --- check-in messages on or off (like /stop and /start on Telegram) ----------------

  function showCheckins(on) {
    state.checkins = typeof on === "boolean" ? on : null;
    ui.checkins.hidden = !state.config.checkins || state.checkins === null;
    ui.checkins.setAttribute("aria-pressed", String(on === true));
    ui.checkinsState.textContent = text(on ? "checkins_on" : "checkins_off");
  }

  function switchCheckins() {
    if (state.switching || !state.token || state.checkins === null) return;
    state.switching = true;
    hideNotice();
    request("POST", "checkins", { token: state.token, on: !state.checkins }).then(function (result) {
      if (result.status === 200) return showCheckins(result.data.checkins);
      if (result.status === 401) endChat();
      showNotice(result.data.message || text("checkins_failed"));
    }).catch(function () {
      showNotice(text("checkins_failed"));
    }).then(function () { state.switching = false; });
  }

  // --- later messages (e.g. "the team has seen your message") -------------------------

  function schedulePoll() {
    if (state.pollTimer) return;
    state.pollTimer = window.setInterval(poll, state.config.poll_seconds * 1000);
  }

  function poll() {
    if (document.hidden || state.sending || !state.token) return;
    request("POST", "history", { token: state.token, after: state.cursor }).then(function (result) {
      if (result.status === 200) render(result.data.messages, { poll: true });
      else if (result.status === 401) {
        endChat();
        showNotice(result.data.message || text("expired"));
      }
    }).catch(function () { /* offline: try again next time */ });
  }

  // --- start --------------------------------------------------------------------------

  function start() {
    request("GET", "config").then(function (result) {
      if (result.status !== 200) throw new Error("config " + result.status);
      state.config = result.data;
      build(state.config);
      if (takeCode() || START_OPEN || state.openWhenReady || tabStore.get(KEY + ":open") === "1") {
        open(state.openWhenReady); // a clinic link opens the chat at once
      } else if (state.token) {
        // The history, and how many messages came since the client last looked (e.g. a
        // check-in): on the launcher. A visitor without a chat gets none started here.
        ensureSession().catch(function () {});
      }
    }).catch(function (error) {
      // Not allowed on this site, or the bot is down: no launcher rather than a broken one.
      if (window.console) window.console.warn("Aftercare chat unavailable:", error.message);
    });
  }

  window.AftercareChat = {
    open: function () { if (ui.panel) open(true); else state.openWhenReady = true; },
    close: function () { if (ui.panel) close(); },
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
