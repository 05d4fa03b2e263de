/* Frontdesk agent console: sign in, the queue with live updates, a
 * conversation's transcript, replies, internal notes, canned responses and
 * the claim / release / pending / resolve actions.
 *
 * No framework. Every piece of customer or agent text goes into the page
 * with textContent, never as HTML. Writes carry the session's CSRF token. */
(function () {
  "use strict";
  var API = "/api/v1/agent";
  var csrf = null, me = null, tab = { status: "waiting", agent: null }, selected = null, events = null;
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  function api(method, path, body) {
    var headers = {};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
    return fetch(API + path, {
      method: method, headers: headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (r) {
      if (r.status === 204) return {};
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (r.status === 401 && path !== "/login") { showLogin(); }
        if (!r.ok) { var e = new Error(data.detail || r.statusText); e.status = r.status; throw e; }
        return data;
      });
    });
  }

  function ago(iso) {
    if (!iso) return "";
    var s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    if (s < 60) return "just now";
    if (s < 3600) return Math.floor(s / 60) + " min";
    if (s < 86400) return Math.floor(s / 3600) + " h";
    return Math.floor(s / 86400) + " d";
  }

  /* ---------- sign-in ---------- */

  function showLogin() {
    if (events) { events.close(); events = null; }
    $("app").hidden = true;
    $("login").hidden = false;
  }

  function showApp(agent) {
    me = agent;
    csrf = agent.csrf;
    $("login").hidden = true;
    $("app").hidden = false;
    $("me").textContent = agent.username + (agent.role === "admin" ? " (admin)" : "");
    listen();
    loadList();
  }

  $("login-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var f = ev.target;
    $("login-error").textContent = "";
    api("POST", "/login", { username: f.username.value, password: f.password.value }).then(function (d) {
      f.password.value = "";
      d.agent.csrf = d.csrf;
      showApp(d.agent);
    }, function (e) { $("login-error").textContent = e.message; });
  });

  $("logout").addEventListener("click", function () {
    api("POST", "/logout").then(showLogin, showLogin);
  });

  /* ---------- live updates ---------- */

  var listTimer = null;
  function refreshSoon() {
    clearTimeout(listTimer);
    listTimer = setTimeout(loadList, 150);
  }

  function listen() {
    if (events) events.close();
    events = new EventSource(API + "/events");
    events.onopen = function () { $("live").classList.remove("off"); };
    events.onerror = function () { $("live").classList.add("off"); };
    events.addEventListener("change", function (ev) {
      var change = JSON.parse(ev.data);
      refreshSoon();
      if (!$("reports").hidden) showLive();
      if (selected && change.conversation_id === selected) loadConversation(selected);
    });
    events.addEventListener("resync", function () {
      refreshSoon();
      if (selected) loadConversation(selected);
    });
  }

  /* ---------- reports ---------- */

  var SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, text) {
    var e = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function secs(v) {
    if (v === null || v === undefined) return "–";
    return v < 90 ? Math.round(v) + " s" : Math.round(v / 60) + " min";
  }
  function pct(v) { return v === null || v === undefined ? "–" : Math.round(v * 100) + "%"; }
  function num(v, digits) { return v === null || v === undefined ? "–" : v.toFixed(digits); }

  function table(t, head, rows) {
    t.textContent = "";
    var tr = el("tr");
    head.forEach(function (h) { tr.appendChild(el("th", null, h)); });
    t.appendChild(tr);
    rows.forEach(function (r) {
      var row = el("tr");
      r.forEach(function (v) { row.appendChild(el("td", null, String(v))); });
      t.appendChild(row);
    });
  }

  function drawDays(days) {
    var chart = $("by-day");
    chart.textContent = "";
    var keys = Object.keys(days);
    var max = Math.max.apply(null, keys.map(function (k) { return days[k].conversations; }).concat([1]));
    keys.forEach(function (k, i) {
      var all = Math.round(120 * days[k].conversations / max);
      var handed = Math.round(120 * days[k].handed_to_people / max);
      chart.appendChild(svg("rect", { x: 20 + i * 75, y: 140 - all, width: 30, height: all, "class": "bar" }));
      chart.appendChild(svg("rect", { x: 52 + i * 75, y: 140 - handed, width: 16, height: handed, "class": "bar handed" }));
      chart.appendChild(svg("text", { x: 44 + i * 75, y: 160, "text-anchor": "middle" }, k.slice(5)));
    });
    table($("day-table"), ["Day", "Conversations", "To people", "Resolved", "Resolution, median", "FCR", "SLA met", "CSAT"],
      keys.map(function (k) {
        var f = days[k];
        return [k, f.conversations, f.handed_to_people, f.resolved, secs(f.resolution_time.median),
          pct(f.first_contact_resolution), pct(f.sla_attainment), num(f.csat.score, 1)];
      }));
  }

  var DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
  function drawStaffing(f) {
    var t = $("staffing");
    t.textContent = "";
    var plan = f.targets[0];
    var note = $("staffing-note");
    if (!plan) {
      note.textContent = "Set [sla] first_response_minutes to get a staffing forecast.";
      return;
    }
    note.textContent = "Agents needed to answer " + Math.round(f.service_level * 100) + "% within " +
      secs(plan.first_response_secs) + " (" + plan.name + "), from " + f.weeks + " weeks of hand-offs (" + f.zone + ")" +
      (f.handling_secs ? ", handling " + secs(f.handling_secs) + " on average." : "; no handling time measured yet.");
    var head = el("tr");
    head.appendChild(el("th"));
    for (var h = 0; h < 24; h++) head.appendChild(el("th", null, String(h)));
    t.appendChild(head);
    var max = 1;
    plan.agents.forEach(function (day) { day.forEach(function (n) { if (n > max) max = n; }); });
    plan.agents.forEach(function (day, i) {
      var row = el("tr");
      row.appendChild(el("th", null, DAYS[i]));
      day.forEach(function (n, hour) {
        var cell = el("td", null, n === null ? "?" : String(n));
        cell.title = DAYS[i] + " " + hour + ":00, " + f.arrivals_per_hour[i][hour].toFixed(1) + " hand-offs an hour";
        if (n) cell.style.background = "rgba(37, 99, 235, " + (0.15 + 0.7 * n / max).toFixed(2) + ")";
        row.appendChild(cell);
      });
      t.appendChild(row);
    });
  }

  function showReports() {
    selected = null;
    $("placeholder").hidden = true;
    $("conversation").hidden = true;
    $("reports").hidden = false;
    fetch("/api/v1/reports/summary", { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (d) {
      var kpis = $("kpis");
      kpis.textContent = "";
      [
        ["Conversations", d.conversations],
        ["Handed to people", d.handed_to_people],
        ["Bot resolution", pct(d.bot_resolution_rate)],
        ["First reply (bot), median", secs(d.first_automatic_response.median)],
        ["First human reply, median", secs(d.first_human_response.median)],
        ["Wait for pickup, median", secs(d.pickup_wait.median)],
        ["SLA met", pct(d.sla_attainment)],
        ["Resolution, median", secs(d.resolution_time.median)],
        ["First contact resolution", pct(d.first_contact_resolution)],
        ["Handling, median", secs(d.agent_handling.median)],
        ["CSAT (1–5)", num(d.csat.score, 1) + " · " + d.csat.count],
        ["NPS", num(d.nps.score, 0) + " · " + d.nps.count],
        ["CES (1–7)", num(d.ces.score, 1) + " · " + d.ces.count]
      ].forEach(function (k) {
        var card = el("div", "kpi");
        card.appendChild(el("div", "kpi-value", String(k[1])));
        card.appendChild(el("div", "kpi-name", k[0]));
        kpis.appendChild(card);
      });
      var chart = $("by-channel");
      chart.textContent = "";
      var channels = Object.keys(d.by_channel);
      var max = Math.max.apply(null, channels.map(function (c) { return d.by_channel[c]; }).concat([1]));
      channels.forEach(function (c, i) {
        var h = Math.round(110 * d.by_channel[c] / max);
        chart.appendChild(svg("rect", { x: 20 + i * 130, y: 130 - h, width: 90, height: h, "class": "bar" }));
        chart.appendChild(svg("text", { x: 65 + i * 130, y: 150, "text-anchor": "middle" }, c + " (" + d.by_channel[c] + ")"));
      });
      drawDays(d.by_day);
      table($("agent-table"), ["Agent", "Picked up", "Resolved", "First reply, median", "Handling, median", "FCR", "CSAT"],
        Object.keys(d.by_agent).map(function (name) {
          var a = d.by_agent[name];
          return [name, a.pickups, a.resolutions, secs(a.first_human_response.median), secs(a.handling.median),
            pct(a.first_contact_resolution), num(a.csat.score, 1)];
        }));
    }, function () { notice("The report could not be loaded."); });
    fetch("/api/v1/reports/staffing", { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error(r.statusText);
      return r.json();
    }).then(drawStaffing, function () {
      $("staffing-note").textContent = "The staffing forecast could not be loaded.";
    });
    showLive();
  }

  /* The queue and who holds what, now; redrawn on every change while the
     reports are open. */
  function showLive() {
    Promise.all(["waiting", "assigned", "pending"].map(function (s) {
      return api("GET", "/conversations?status=" + s);
    })).then(function (lists) {
      var owners = {};
      lists[1].conversations.concat(lists[2].conversations).forEach(function (c) {
        if (c.assigned_agent) owners[c.assigned_agent] = (owners[c.assigned_agent] || 0) + 1;
      });
      var agents = Object.keys(owners).sort().map(function (a) { return a + " " + owners[a]; });
      $("reports-live").textContent = "Now: " + lists[0].conversations.length + " waiting, " +
        lists[1].conversations.length + " assigned, " + lists[2].conversations.length + " pending" +
        (agents.length ? " · agents: " + agents.join(", ") : "");
    });
  }
  $("show-reports").addEventListener("click", showReports);

  /* ---------- the list ---------- */

  document.querySelectorAll("#tabs button").forEach(function (b) {
    b.addEventListener("click", function () {
      document.querySelectorAll("#tabs button").forEach(function (x) { x.classList.remove("active"); });
      b.classList.add("active");
      tab = { status: b.dataset.status, agent: b.dataset.agent || null };
      loadList();
    });
  });

  function loadList() {
    var q = "?status=" + tab.status + (tab.agent ? "&agent=" + tab.agent : "");
    api("GET", "/conversations" + q).then(function (d) { renderList(d.conversations); });
    api("GET", "/conversations?status=waiting").then(function (d) {
      document.querySelector('[data-count="waiting"]').textContent = d.conversations.length || "";
    });
  }

  function renderList(items) {
    var list = $("conversations");
    list.textContent = "";
    $("empty").hidden = items.length > 0;
    items.forEach(function (c) {
      var li = el("li", "conv" + (c.id === selected ? " selected" : ""));
      li.dataset.id = c.id;
      li.tabIndex = 0;
      li.appendChild(el("span", "who", c.customer_name));
      li.appendChild(el("span", "when", ago(c.status === "waiting" ? c.waiting_since : c.updated_at)));
      li.appendChild(el("span", "preview", c.preview || ""));
      var tags = el("span", "tags");
      tags.appendChild(el("span", "tag", "#" + c.ticket));
      tags.appendChild(el("span", "tag", c.channel));
      if (c.priority > 0) tags.appendChild(el("span", "tag priority", "priority " + c.priority));
      if (c.assigned_agent) tags.appendChild(el("span", "tag", "→ " + c.assigned_agent));
      if (c.undelivered) tags.appendChild(el("span", "tag bad", "undelivered"));
      if (c.sla && c.sla.state === "breached") tags.appendChild(el("span", "tag bad", "SLA breached"));
      if (c.sla && c.sla.state === "near") tags.appendChild(el("span", "tag warn", "SLA near"));
      if (c.segment) tags.appendChild(el("span", "tag", c.segment));
      li.appendChild(tags);
      li.addEventListener("click", function () { select(c.id); });
      li.addEventListener("keydown", function (ev) { if (ev.key === "Enter") select(c.id); });
      list.appendChild(li);
    });
  }

  /* ---------- one conversation ---------- */

  function select(id) {
    selected = id;
    document.querySelectorAll(".conv").forEach(function (li) { li.classList.toggle("selected", li.dataset.id === id); });
    $("notice").hidden = true;
    loadConversation(id);
    loadCanned(id);
  }

  function loadConversation(id) {
    api("GET", "/conversations/" + id).then(function (d) {
      if (selected !== id) return;
      renderConversation(d);
    });
  }

  var authorNames = { customer: "Customer", bot: "Bot", agent: "Agent", note: "Internal note" };

  $("tags-form").addEventListener("submit", function (e) {
    e.preventDefault();
    if (!selected) return;
    var tags = $("tags").value.split(/[\s,]+/).filter(function (t) { return t; }).map(function (t) { return t.toLowerCase(); });
    var id = selected;
    api("PUT", "/conversations/" + id + "/tags", { tags: tags }).then(function () {
      $("tags").blur();
      loadConversation(id);
    }, function (err) { notice(err.message); });
  });

  function renderConversation(d) {
    var c = d.conversation;
    $("placeholder").hidden = true;
    $("reports").hidden = true;
    $("conversation").hidden = false;
    $("conv-title").textContent = c.customer_name;
    $("conv-meta").textContent = "Ticket #" + c.ticket + " · " + c.channel + " · " + c.status +
      (c.assigned_agent ? " · " + c.assigned_agent : "") + (c.priority ? " · priority " + c.priority : "") +
      " · " + c.locale + (c.subject ? " · “" + c.subject + "”" : "");
    $("undelivered").hidden = !c.undelivered;
    if (document.activeElement !== $("tags")) $("tags").value = (c.tags || []).join(", ");

    var mine = c.assigned_agent === me.username;
    var owned = c.status === "assigned" || c.status === "pending";
    var admin = me.role === "admin";
    var can = {
      // Only what is free to take: not resolved (a reply reopens it), not
      // someone else's (an admin reassigns those).
      claim: c.status !== "resolved" && !owned,
      release: owned && (mine || admin),
      pending: c.status === "assigned" && (mine || admin),
      "return-to-bot": c.status !== "bot" && (!owned || mine || admin),
      resolve: c.status !== "resolved" && (!owned || mine || admin)
    };
    document.querySelectorAll(".actions button").forEach(function (b) { b.disabled = !can[b.dataset.action]; });

    var log = $("transcript");
    var atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    log.textContent = "";
    d.messages.forEach(function (m) {
      var li = el("li", "msg " + m.author + (m.delivered === false ? " failed" : ""));
      li.dataset.seq = m.seq;
      var head = el("div", "head");
      head.appendChild(el("span", null, authorNames[m.author] + (m.agent ? " · " + m.agent : "") + (m.intent ? " · " + m.intent : "") +
        (m.rating ? " · " + m.rating.kind.toUpperCase() + " " + m.rating.score : "") + (m.survey_comment ? " · survey comment" : "")));
      head.appendChild(el("time", null, new Date(m.at).toLocaleString()));
      li.appendChild(head);
      li.appendChild(el("div", "body", m.text));
      if (m.not_answered_because) li.appendChild(el("div", "why", "Not answered: " + m.not_answered_because));
      var files = (m.attachments || []).slice();
      if (m.original) files.push({ name: "original message", blob: m.original, original: true });
      if (files.length) {
        var list = el("ul", "files");
        files.forEach(function (f) {
          var item = el("li");
          var label = f.name + (f.size !== undefined ? " (" + f.content_type + ", " + Math.max(1, Math.round(f.size / 1024)) + " KB)" : "");
          if (f.blob) {
            var a = el("a", null, label);
            a.href = API + "/conversations/" + encodeURIComponent(c.id) + "/files/" + encodeURIComponent(f.blob);
            a.setAttribute("download", "");
            item.appendChild(a);
          } else {
            item.textContent = label + " · too large, not kept";
          }
          list.appendChild(item);
        });
        li.appendChild(list);
      }
      if (m.error) li.title = m.error;
      log.appendChild(li);
    });
    d.sending.forEach(function (s) {
      var li = el("li", "msg sending " + (s.reason === "agent" ? "agent" : "bot"));
      var head = el("div", "head");
      head.appendChild(el("span", null, "Sending" + (s.attempts ? " · attempt " + (s.attempts + 1) + " · " + (s.last_error || "") : "")));
      li.appendChild(head);
      li.appendChild(el("div", "body", s.text));
      log.appendChild(li);
    });
    if (atBottom || log.dataset.for !== c.id) log.scrollTop = log.scrollHeight;
    log.dataset.for = c.id;
  }

  function notice(text) {
    $("notice").textContent = text;
    $("notice").hidden = !text;
  }

  document.querySelectorAll(".actions button").forEach(function (b) {
    b.addEventListener("click", function () {
      if (!selected) return;
      notice("");
      api("POST", "/conversations/" + selected + "/" + b.dataset.action).then(function () {
        // A claimed conversation leaves the queue: follow it to "Mine".
        if (b.dataset.action === "claim") document.querySelector('#tabs [data-agent="me"]').click();
        loadConversation(selected); loadList();
      }, function (e) { notice(e.message); });
    });
  });

  function loadCanned(id) {
    var select = $("canned");
    while (select.options.length > 1) select.remove(1);
    api("GET", "/conversations/" + id + "/canned").then(function (d) {
      d.canned.forEach(function (c) {
        var o = el("option", null, c.title);
        o.value = c.text;
        select.appendChild(o);
      });
    });
  }

  $("canned").addEventListener("change", function (ev) {
    if (!ev.target.value) return;
    var t = $("text");
    t.value = t.value ? t.value + "\n" + ev.target.value : ev.target.value;
    ev.target.selectedIndex = 0;
    t.focus();
  });

  document.querySelectorAll('input[name="kind"]').forEach(function (r) {
    r.addEventListener("change", function () {
      var note = document.querySelector('input[name="kind"]:checked').value === "note";
      $("composer").classList.toggle("note", note);
      $("send").textContent = note ? "Add note" : "Send";
    });
  });

  $("composer").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = $("text").value;
    if (!selected || !text.trim()) return;
    var kind = document.querySelector('input[name="kind"]:checked').value;
    $("send").disabled = true;
    notice("");
    api("POST", "/conversations/" + selected + (kind === "note" ? "/notes" : "/messages"), { text: text }).then(function () {
      $("text").value = "";
      loadConversation(selected);
    }, function (e) { notice(e.message); }).then(function () { $("send").disabled = false; });
  });

  $("text").addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); $("composer").requestSubmit(); }
  });

  setInterval(function () { if (me) loadList(); }, 30000);

  api("GET", "/me").then(showApp, showLogin);
})();
