// The staff inbox: refresh the queue and the open conversation by themselves, chime when a
// new item arrives (the Sound button turns it off; remembered on this browser), count the
// acknowledgement deadlines down, and put a canned reply into the reply box.
(function () {
  "use strict";
  var soundKey = "aftercare-inbox-sound";
  function soundOn() { return localStorage.getItem(soundKey) !== "off"; }

  // Browsers let a page play sound only after a click or key press on it: the audio is set
  // up on the first one (any click, the Sound button included) and reused.
  var audio = null;
  function unlockAudio() {
    try {
      if (!audio) audio = new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === "suspended") audio.resume();
    } catch (e) { audio = null; }
  }
  document.addEventListener("click", unlockAudio);
  document.addEventListener("keydown", unlockAudio);

  function chime() {
    if (!soundOn() || !audio) return;
    try {
      var ctx = audio;
      var osc = ctx.createOscillator(), gain = ctx.createGain();
      osc.frequency.value = 880; gain.gain.value = 0.15;
      osc.connect(gain); gain.connect(ctx.destination);
      osc.start(); osc.stop(ctx.currentTime + 0.35);
    } catch (e) { /* no audio here */ }
  }

  function ids(root) {
    var found = {};
    root.querySelectorAll("[data-item]").forEach(function (el) { found[el.dataset.item] = true; });
    return found;
  }

  function refresh(box, every, onNew) {
    var busy = false, skipped = 0;
    setInterval(function () {
      // A tab in the background still hears of new items (every third beat).
      if (busy || (document.hidden && ++skipped % 3 !== 0)) return;
      busy = true;
      fetch(box.dataset.refresh, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) {
          if (r.status === 401) { window.location = "/login"; return null; }
          return r.ok ? r.text() : null;
        })
        .then(function (html) {
          if (html === null || html === box.innerHTML.trim()) return;
          var before = ids(box);
          var atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 20;
          box.innerHTML = html;
          if (onNew) onNew(before);
          if (atBottom) box.scrollTop = box.scrollHeight;
          tick();
        })
        .catch(function () {})
        .then(function () { busy = false; });
    }, every);
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      var left = Math.round((Date.parse(el.getAttribute("datetime")) - now) / 60000);
      el.textContent = left >= 0 ? left + " min" : "-" + (-left) + " min";
      el.classList.toggle("overdue", left < 0);
    });
    document.querySelectorAll("[data-since]").forEach(function (el) {
      el.textContent = Math.max(0, Math.round((now - Date.parse(el.getAttribute("datetime"))) / 60000)) + " min";
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var sound = document.getElementById("sound");
    if (sound) {
      var show = function () {
        sound.setAttribute("aria-pressed", soundOn() ? "true" : "false");
        sound.textContent = soundOn() ? sound.dataset.on : sound.dataset.off;
      };
      sound.addEventListener("click", function () {
        localStorage.setItem(soundKey, soundOn() ? "off" : "on"); show();
      });
      show();
    }
    var queue = document.getElementById("queue");
    if (queue) {
      refresh(queue, 5000, function (before) {
        var fresh = false;
        queue.querySelectorAll("[data-item]").forEach(function (el) {
          if (!before[el.dataset.item]) { el.classList.add("new"); fresh = true; }
        });
        if (fresh) { chime(); document.title = "(!) " + document.title.replace(/^\(!\) /, ""); }
      });
    }
    var transcript = document.getElementById("transcript");
    if (transcript) { transcript.scrollTop = transcript.scrollHeight; refresh(transcript, 4000); }
    document.querySelectorAll("[data-canned]").forEach(function (button) {
      button.addEventListener("click", function () {
        var box = document.getElementById("reply");
        box.value = button.dataset.canned; box.focus();
      });
    });
    tick(); setInterval(tick, 15000);
  });
})();
