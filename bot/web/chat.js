// Candor web chat: posts messages to /chat/api/messages and shows the transcript.
// Text is always inserted with textContent, never as HTML.
(function () {
  "use strict";
  var log = document.getElementById("log");
  var form = document.getElementById("composer");
  var input = document.getElementById("text");
  var statusLine = document.getElementById("status");
  var lastId = 0;

  function show(direction, text, buttons) {
    var item = document.createElement("li");
    item.className = direction;
    var bubble = document.createElement("div");
    bubble.className = "bubble";
    bubble.textContent = text;
    item.appendChild(bubble);
    if (buttons && buttons.length) {
      var row = document.createElement("div");
      row.className = "buttons";
      buttons.forEach(function (b) {
        var button = document.createElement("button");
        button.type = "button";
        button.textContent = b.title;
        button.addEventListener("click", function () {
          show("inbound", b.title);
          send({ event: "button", event_key: b.payload });
        });
        row.appendChild(button);
      });
      item.appendChild(row);
    }
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
  }

  function send(body) {
    statusLine.textContent = "";
    return fetch("/chat/api/messages", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) { throw new Error((data.error && data.error.message) || response.status); }
        data.replies.forEach(function (r) { show("outbound", r.text, r.buttons); });
        if (data.last_id) { lastId = Math.max(lastId, data.last_id); }
      });
    }).catch(function (err) {
      statusLine.textContent = "发送失败 / Not sent: " + err.message;
    });
  }

  function history() {
    return fetch("/chat/api/messages?after=" + lastId, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : { messages: [] }; })
      .then(function (data) {
        data.messages.forEach(function (m) {
          if (m.text) { show(m.direction, m.text, m.buttons); }
          lastId = Math.max(lastId, m.id);
        });
      });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) { return; }
    input.value = "";
    show("inbound", text);
    send({ text: text });
  });

  var params = new URLSearchParams(window.location.search);
  var bind = params.get("bind");
  // A booking link (/b/<token>) binds, then asks for interview times at once.
  var book = params.get("start") === "book";
  history().then(function () {
    if (bind) {
      // The link's token is single-use: drop it from the address bar and history.
      window.history.replaceState(null, "", "/chat");
      send({ event: "start", event_key: bind }).then(function () {
        if (book) { send({ event: "button", event_key: "/book_interview" }); }
      });
    } else if (lastId === 0) {
      send({ event: "start" });
    }
    // Results Candor sends to this chat later appear without a reload.
    window.setInterval(history, 15000);
  });
}());
