// The chat page's script: one chat over three transports. WebSocket when the browser has
// it, else (or when it fails to connect twice in a row) Server-Sent Events, else long
// polling (Tornado's /a/message/updates). Each transport resumes from the position of the
// last message seen, so a dropped connection gets exactly what it missed, once. Reconnects
// back off from 0.5 s to 10 s. ?transport=websocket|sse|poll forces one.
(function () {
  "use strict";
  var inbox = document.getElementById("inbox");
  var form = document.getElementById("messageform");
  var input = document.getElementById("message");
  var statusBox = document.getElementById("status");
  var membersList = document.getElementById("members");
  var room = inbox.getAttribute("data-room");
  var position = inbox.getAttribute("data-position") || "";  // of the last message seen
  var members = {};
  var labels = { websocket: "WebSocket", sse: "Server-Sent Events", poll: "long polling" };

  var order = ["websocket", "sse", "poll"].filter(function (name) {
    if (name === "websocket") return "WebSocket" in window;
    if (name === "sse") return "EventSource" in window;
    return true;
  });
  var forced = new URLSearchParams(location.search).get("transport");
  if (forced && labels[forced]) order = [forced];
  var index = 0;        // order[index] is the transport in use
  var current = null;   // {send(body) -> bool, close()}
  var failures = 0;     // attempts in a row that never connected
  var delay = 500;
  var retry = null;     // the reconnect timer

  function xsrf() {
    var field = form.querySelector("input[name=_xsrf]");
    return field ? field.value : "";
  }

  function setStatus(state, text) {
    statusBox.setAttribute("data-state", state);
    statusBox.setAttribute("data-transport", order[index]);
    statusBox.textContent = text;
  }

  function showError(text) {
    var node = document.createElement("div");
    node.className = "error";
    node.textContent = text;
    inbox.appendChild(node);
  }

  // A message {id, html, position}: appended once (a message already shown is skipped).
  function show(message) {
    if (message.position) position = message.position;
    if (document.getElementById("m" + message.id)) return;
    var holder = document.createElement("div");
    holder.innerHTML = message.html;  // rendered (and escaped) by the server
    var node = holder.firstElementChild;
    if (!node) return;
    inbox.appendChild(node);
    inbox.scrollTop = inbox.scrollHeight;
  }

  function drawMembers() {
    var names = Object.keys(members).sort();
    membersList.textContent = "";
    names.forEach(function (name) {
      var item = document.createElement("li");
      item.textContent = name;
      membersList.appendChild(item);
    });
  }

  function setMembers(list) {
    members = {};
    list.forEach(function (m) { members[m.name] = true; });
    drawMembers();
  }

  // Presence and control events: {event: "members"|"join"|"leave"|"reload"|"error", ...}.
  function handleEvent(event) {
    if (event.event === "members") {
      setMembers(event.members);
    } else if (event.event === "join") {
      members[event.client_id] = true;
      drawMembers();
    } else if (event.event === "leave") {
      delete members[event.client_id];
      drawMembers();
    } else if (event.event === "reload") {
      location.reload();  // messages were lost for good: start again from the page
    } else if (event.event === "error") {
      showError(event.message);
    }
  }

  function connected() {
    failures = 0;
    delay = 500;
    setStatus("live", "live (" + labels[order[index]] + ")");
  }

  // The connection ended; `opened` says whether it ever worked.
  function lost(opened) {
    current = null;
    if (!navigator.onLine) {  // no network: the "online" event reconnects
      setStatus("offline", "offline");
      return;
    }
    if (!opened && ++failures >= 2 && index + 1 < order.length) {
      index += 1;  // this transport does not get through: the next one
      failures = 0;
    }
    setStatus("offline", "offline, reconnecting (" + labels[order[index]] + ")…");
    retry = setTimeout(connect, delay);
    delay = Math.min(delay * 2, 10000);
  }

  function since(prefix) {
    return position ? prefix + "since=" + encodeURIComponent(position) : "";
  }

  function openWebSocket() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(scheme + location.host + "/a/message/socket?room=" +
                           encodeURIComponent(room) + since("&"));
    var opened = false;
    var self = {
      send: function (body) {
        if (ws.readyState !== WebSocket.OPEN) return false;
        ws.send(JSON.stringify({ body: body }));
        return true;
      },
      close: function () { ws.close(); }
    };
    ws.onopen = function () { opened = true; connected(); };
    ws.onmessage = function (event) {
      var data = event.data;
      if (data.charAt(0) === "{") return handleEvent(JSON.parse(data));
      var newline = data.indexOf("\n");  // "<position>\n<message JSON>"
      var message = JSON.parse(data.slice(newline + 1));
      message.position = data.slice(0, newline);
      show(message);
    };
    ws.onclose = function () { if (current === self) lost(opened); };
    return self;
  }

  function openEventSource() {
    var source = new EventSource("/a/message/events?room=" + encodeURIComponent(room) + since("&"));
    var opened = false;
    var self = { send: postMessage, close: function () { source.close(); } };
    source.onopen = function () { opened = true; connected(); };
    source.onmessage = function (event) {
      var message = JSON.parse(event.data);
      message.position = event.lastEventId;
      show(message);
    };
    source.addEventListener("presence", function (event) { handleEvent(JSON.parse(event.data)); });
    source.addEventListener("members", function (event) {
      setMembers(JSON.parse(event.data).members);
    });
    source.addEventListener("reload", function () { location.reload(); });
    source.onerror = function () {
      if (opened && source.readyState === EventSource.CONNECTING) {
        // The browser reconnects by itself, sending Last-Event-ID: the missed messages come.
        setStatus("offline", "offline, reconnecting (" + labels.sse + ")…");
        return;
      }
      source.close();
      if (current === self) lost(opened);
    };
    return self;
  }

  function openPoll() {
    var stopped = false;
    var self = { send: postMessage, close: function () { stopped = true; } };
    function poll() {
      if (stopped) return;
      var body = new URLSearchParams({ room: room, cursor: position, _xsrf: xsrf() });
      fetch("/a/message/updates", { method: "POST", body: body, credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.json();
        })
        .then(function (data) {
          if (stopped) return;
          if (data.reload) return location.reload();
          data.messages.forEach(show);
          if (data.cursor) position = data.cursor;
          if (data.members) setMembers(data.members);  // sent when it may have changed
          poll();
        })
        .catch(function () {
          if (stopped) return;
          stopped = true;
          if (current === self) lost(true);
        });
    }
    connected();  // the last transport: it retries, it never falls back
    poll();
    return self;
  }

  // Sends over HTTP (SSE and long polling, or while a WebSocket is down).
  function postMessage(body) {
    var data = new URLSearchParams({ body: body, room: room, _xsrf: xsrf() });
    fetch("/a/message/new", { method: "POST", body: data, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) showError("Not sent: HTTP " + response.status + " " + response.statusText);
      })
      .catch(function () { showError("Not sent: the server cannot be reached"); });
    return true;
  }

  function connect() {
    clearTimeout(retry);
    retry = null;
    var name = order[index];
    setStatus("connecting", "connecting (" + labels[name] + ")…");
    if (name === "websocket") current = openWebSocket();
    else if (name === "sse") current = openEventSource();
    else current = openPoll();
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var body = input.value;
    if (body === "") return;
    if (!(current && current.send(body))) postMessage(body);
    input.value = "";
    input.focus();
  });
  document.getElementById("roomform").addEventListener("submit", function (event) {
    event.preventDefault();
    location.href = "/room/" + encodeURIComponent(document.getElementById("roomname").value);
  });
  window.addEventListener("pagehide", function () { if (current) current.close(); });
  // The network went away (a laptop's Wi-Fi, the browser's offline mode): the connection is
  // dead even if no close was seen; when it is back, resume at once from the last position.
  window.addEventListener("offline", function () {
    var dead = current;
    current = null;
    if (dead) dead.close();
    clearTimeout(retry);
    setStatus("offline", "offline");
  });
  window.addEventListener("online", function () {
    if (!current) {
      delay = 500;
      connect();
    }
  });
  input.focus();
  inbox.scrollTop = inbox.scrollHeight;
  connect();
})();
