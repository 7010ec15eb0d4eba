// The chat demo's templates, stylesheet and script, built into the binary (the page
// structure of Tornado's websocket chat demo: #inbox of .message, form#messageform with the
// input #message named body).
#pragma once

namespace chatdemo {

inline constexpr const char* kIndexHtml = R"HTML(<!DOCTYPE html>
<html>
  <head>
    <meta charset="UTF-8">
    <title>Tornado Chat Demo</title>
    <link rel="stylesheet" href="/static/chat.css" type="text/css">
  </head>
  <body>
    <div id="body">
      <div id="inbox">
        {% for message in messages %}
          {% include "message.html" %}
        {% end %}
      </div>
      <div id="input">
        <form action="/a/message/new" method="post" id="messageform">
          <table>
            <tr>
              <td><input type="text" name="body" id="message" style="width:500px" autocomplete="off"></td>
              <td style="padding-left:5px">
                <input type="submit" value="Post">
                <input type="hidden" name="next" value="{{ request['path'] }}">
                {% raw xsrf_form_html() %}
              </td>
            </tr>
          </table>
        </form>
      </div>
    </div>
    <script src="/static/chat.js" type="text/javascript"></script>
  </body>
</html>
)HTML";

inline constexpr const char* kMessageHtml =
    R"HTML(<div class="message" id="m{{ message['id'] }}">{% raw linkify(message['body']) %}</div>
)HTML";

inline constexpr const char* kChatCss = R"CSS(body {
  background: white;
  margin: 10px;
}
body, input {
  font-family: sans-serif;
  font-size: 10pt;
  color: black;
}
table {
  border-collapse: collapse;
  border: 0;
}
td {
  border: 0;
  padding: 0;
}
#body {
  position: absolute;
  bottom: 10px;
  left: 10px;
}
#input {
  margin-top: 0.5em;
}
#inbox .message {
  padding-top: 0.25em;
}
#nav {
  float: right;
  z-index: 99;
}
)CSS";

// Vanilla JavaScript (no jQuery, no CDN): the form sends {"body": ...} over the socket and
// every message that arrives is inserted as the server rendered it.
inline constexpr const char* kChatJs = R"JS((function () {
  "use strict";
  var form = document.getElementById("messageform");
  var input = document.getElementById("message");
  var inbox = document.getElementById("inbox");
  var socket = null;
  var delay = 500;

  function show(message) {
    if (document.getElementById("m" + message.id)) return;  // already on the page
    var holder = document.createElement("div");
    holder.innerHTML = message.html;
    var node = holder.firstElementChild;
    node.style.display = "none";
    inbox.appendChild(node);
    node.style.display = "";
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/chatsocket");
    socket.onopen = function () { delay = 500; };
    socket.onmessage = function (event) { show(JSON.parse(event.data)); };
    socket.onclose = function () {
      socket = null;
      setTimeout(connect, delay);           // reconnect, backing off to 10 s
      delay = Math.min(delay * 2, 10000);
    };
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!socket || socket.readyState !== WebSocket.OPEN || input.value === "") return;
    socket.send(JSON.stringify({ body: input.value }));
    input.value = "";
    input.focus();
  });
  input.focus();
  connect();
})();
)JS";

}  // namespace chatdemo
