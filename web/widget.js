/* Frontdesk chat widget: one script tag, no framework.
 *
 *   <script src="https://support.example/widget.js" data-title="Acme" defer></script>
 *
 * Keeps a session token in localStorage, talks to the gateway that served
 * this script over a WebSocket (falling back to long polling), and never
 * shows a message twice: each outgoing message has a client_id, retried
 * sends reuse it, and the gateway drops the copies. All text is inserted as
 * text, never as HTML. */
(function () {
  "use strict";
  var script = document.currentScript;
  var base = new URL(script && script.src ? script.src : "/widget.js", location.href);
  var api = base.origin + "/api/v1/chat";
  var title = (script && script.dataset.title) || "Support";
  var storageKey = "frontdesk.session." + base.host;
  var names = { bot: "Assistant", agent: "Support team", customer: "You" };

  var session = null, lastSeq = 0, socket = null, socketFailures = 0, polling = false;
  var pending = [];   // {clientId, text, el} sent but not yet seen in the transcript
  var seen = {};      // seq -> true

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  if (!document.querySelector('link[data-frontdesk]')) {
    var css = el("link");
    css.rel = "stylesheet"; css.href = base.origin + "/widget.css"; css.setAttribute("data-frontdesk", "");
    document.head.appendChild(css);
  }

  var launcher = el("button", "fd-launcher", "Chat with us");
  launcher.type = "button";
  var panel = el("section", "fd-panel");
  panel.setAttribute("aria-label", title + " chat");
  var header = el("div", "fd-header");
  var heading = el("div");
  heading.appendChild(el("div", "fd-title", title));
  var status = el("div", "fd-status", "Connecting…");
  heading.appendChild(status);
  var close = el("button", "fd-close", "×");
  close.type = "button"; close.setAttribute("aria-label", "Close chat");
  header.appendChild(heading); header.appendChild(close);
  var log = el("div", "fd-log");
  log.setAttribute("role", "log"); log.setAttribute("aria-live", "polite");
  var form = el("form", "fd-form");
  var input = el("textarea", "fd-input");
  input.rows = 1; input.placeholder = "Type your message…"; input.maxLength = 4000;
  input.setAttribute("aria-label", "Message");
  var send = el("button", "fd-send", "Send");
  send.type = "submit";
  form.appendChild(input); form.appendChild(send);
  panel.appendChild(header); panel.appendChild(log); panel.appendChild(form);

  function setOpen(open) {
    panel.hidden = !open; launcher.hidden = open;
    if (open) { input.focus(); start(); }
  }
  launcher.addEventListener("click", function () { setOpen(true); });
  close.addEventListener("click", function () { setOpen(false); });

  function bubble(from, text) {
    var b = el("div", "fd-msg");
    b.setAttribute("data-from", from);
    if (from !== "customer") b.appendChild(el("span", "fd-who", names[from] || from));
    b.appendChild(document.createTextNode(text));
    log.appendChild(b);
    log.scrollTop = log.scrollHeight;
    return b;
  }

  function show(m) {
    if (seen[m.seq]) return;
    seen[m.seq] = true;
    if (m.seq > lastSeq) lastSeq = m.seq;
    if (m.from === "customer") {
      for (var i = 0; i < pending.length; i++) {
        if (pending[i].text === m.text) {   // our own message, already on screen
          pending[i].el.removeAttribute("data-state");
          pending[i].el.setAttribute("data-seq", m.seq);
          pending.splice(i, 1);
          return;
        }
      }
    }
    var b = bubble(m.from, m.text);
    b.setAttribute("data-seq", m.seq);
    if (m.options && m.options.length) {
      // A clarifying question: each button sends its label as our answer.
      var row = el("div", "fd-options");
      m.options.forEach(function (label) {
        var o = el("button", "fd-option", label);
        o.type = "button";
        o.addEventListener("click", function () {
          row.querySelectorAll("button").forEach(function (x) { x.disabled = true; });
          sendText(label);
        });
        row.appendChild(o);
      });
      b.appendChild(row);
    }
  }

  function request(method, path, body) {
    return fetch(api + path, {
      method: method,
      headers: body ? { "Content-Type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) { var e = new Error(data.detail || r.statusText); e.status = r.status; e.code = data.error; throw e; }
        return data;
      });
    });
  }

  function ensureSession() {
    if (session) return Promise.resolve(session);
    try { session = localStorage.getItem(storageKey); } catch (e) { session = null; }
    if (session) return Promise.resolve(session);
    return request("POST", "/sessions").then(function (d) {
      session = d.session;
      try { localStorage.setItem(storageKey, session); } catch (e) { /* private mode */ }
      return session;
    });
  }

  function resetSession() {
    session = null;
    try { localStorage.removeItem(storageKey); } catch (e) { /* ignore */ }
  }

  // While a person is awaited: the place in line, kept current.
  function showPlace(q) {
    if (!q) return;
    if (q.position === null) { status.textContent = "Online"; return; }
    status.textContent = "Online · number " + q.position + " in line, about " + q.wait_minutes + " min";
  }

  var started = false;
  function start() {
    if (started) return;
    started = true;
    ensureSession().then(connect, function () { started = false; status.textContent = "Offline, retrying…"; setTimeout(start, 3000); });
  }

  function connect() {
    if (socketFailures >= 3 || !("WebSocket" in window)) { poll(); return; }
    var url = api.replace(/^http/, "ws") + "/ws?session=" + encodeURIComponent(session) + "&after=" + lastSeq;
    var opened = false;
    socket = new WebSocket(url);
    socket.onopen = function () { opened = true; socketFailures = 0; status.textContent = "Online"; flush(); };
    socket.onmessage = function (ev) {
      var f; try { f = JSON.parse(ev.data); } catch (e) { return; }
      if (f.type === "message") show(f);
      else if (f.type === "queue") showPlace(f);
      else if (f.type === "error" && f.client_id) markFailed(f.client_id, f.detail);
    };
    socket.onclose = function () {
      socket = null;
      if (!opened) socketFailures++;
      status.textContent = "Reconnecting…";
      if (!opened && socketFailures === 1) {
        // The session may be unknown (data folder reset): check over HTTP.
        request("GET", "/messages?session=" + encodeURIComponent(session) + "&after=" + lastSeq).catch(function (e) {
          if (e.status === 404) resetSession();
        }).then(function () { setTimeout(function () { ensureSession().then(connect); }, 500); });
        return;
      }
      setTimeout(connect, Math.min(1000 * Math.pow(2, socketFailures), 15000));
    };
  }

  function poll() {
    if (polling) return;
    polling = true;
    status.textContent = "Online";
    (function next() {
      request("GET", "/messages?session=" + encodeURIComponent(session) + "&after=" + lastSeq + "&wait=25")
        .then(function (d) { d.messages.forEach(show); if (d.queue) showPlace(d.queue); next(); },
              function (e) { if (e.status === 404) resetSession(); setTimeout(function () { ensureSession().then(next); }, 2000); });
    })();
    flush();
  }

  function markFailed(clientId, detail) {
    pending.forEach(function (p) {
      if (p.clientId === clientId) { p.el.setAttribute("data-state", "failed"); p.el.title = detail || "Not sent"; p.failed = true; }
    });
  }

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  // Sends every pending message not yet acknowledged; safe to repeat.
  function flush() {
    pending.forEach(function (p) {
      if (p.acked || p.failed) return;
      if (socket && socket.readyState === 1) {
        socket.send(JSON.stringify({ type: "message", client_id: p.clientId, text: p.text }));
      } else if (polling) {
        request("POST", "/messages", { session: session, client_id: p.clientId, text: p.text })
          .then(function () { p.acked = true; }, function (e) { if (e.status >= 400 && e.status < 500) markFailed(p.clientId, e.message); });
      }
    });
  }

  function sendText(text) {
    var b = bubble("customer", text);
    b.setAttribute("data-state", "sending");
    pending.push({ clientId: newId(), text: text, el: b });
    ensureSession().then(flush);
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    sendText(text);
  });
  input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); form.requestSubmit ? form.requestSubmit() : send.click(); }
  });

  function mount() {
    document.body.appendChild(launcher);
    document.body.appendChild(panel);
    setOpen(script && script.dataset.open === "true");
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
