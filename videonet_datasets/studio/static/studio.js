/* VideoNet studio: the frame-accurate player and the few behaviours the pages need.
 *
 * Plain JavaScript, no build step, loaded from /static only (the pages' Content-Security-Policy
 * allows nothing else).  Data comes from data- attributes and the studio's JSON endpoints.
 *
 * A player (<div class="player" data-video=ID data-mode=...>) steps through the served file's
 * real frame times (GET /media/frames/ID: times of every frame in the file's seconds, plus the
 * offset to the source's seconds).  "The frame on screen at t" is the last frame whose time is
 * <= t; to show frame i the player seeks to the middle of its display interval, so rounding in
 * the browser never shows its neighbour.
 *   mode "mark":   play/pause, step a frame, set in / set out, preview the window; writes the
 *                  window (source seconds: start = time of the in frame, end = time of the frame
 *                  after the out frame) into the form's start/end inputs.  Keyboard: Space,
 *                  Left/Right (Shift: one second), I, O, P.  data-lo/data-hi limit the range.
 *   mode "window": plays [data-start, data-end) of the source in a loop (verification, examples).
 */
"use strict";

(function () {
  function num(value) {
    if (value === undefined || value === null || value === "") return null;
    const x = Number(value);
    return Number.isFinite(x) ? x : null;
  }

  function bisectRight(a, x) {
    let lo = 0;
    let hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (x < a[mid]) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  function secs(t) {
    return t.toFixed(3) + " s";
  }

  const players = [];

  class Player {
    constructor(el) {
      this.el = el;
      this.video = el.querySelector("video");
      this.mode = el.dataset.mode || "window";
      this.clock = el.querySelector(".clock");
      this.marksEl = el.querySelector(".marks");
      this.form = el.closest("form");
      this.start = num(el.dataset.start);
      this.stop = num(el.dataset.end);
      this.lo = num(el.dataset.lo);
      this.hi = num(el.dataset.hi);
      this.times = null;
      this.cur = 0;
      this.inFrame = null;
      this.outFrame = null;
      this.stopAt = null; // media time where playback pauses (preview) or loops (window)
      this.stopFrame = null; // the frame shown after a preview stops
      this.loop = false;
      el.addEventListener("click", (e) => {
        const b = e.target.closest("button[data-act]");
        if (b && el.contains(b)) {
          e.preventDefault();
          this.act(b.dataset.act);
          b.blur(); // Space stays play/pause instead of pressing the last button again
        }
      });
      this.video.addEventListener("timeupdate", () => this.onTime(this.video.currentTime));
      this.video.addEventListener("play", () => {
        this.el.dataset.state = "playing";
      });
      this.video.addEventListener("pause", () => {
        this.el.dataset.state = "paused";
        if (this.times) this.cur = this.frameAtMedia(this.video.currentTime);
        this.render();
      });
      this.load().catch((err) => {
        el.dataset.error = String(err);
        if (this.clock) this.clock.textContent = "cannot load the video: " + err;
      });
    }

    async load() {
      const r = await fetch("/media/frames/" + encodeURIComponent(this.el.dataset.video), {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (!r.ok) throw new Error("HTTP " + r.status);
      const data = await r.json();
      this.times = data.times;
      this.offset = data.offset || 0;
      this.videoEnd = data.end;
      this.fps = data.fps || 25;
      this.first = 0;
      this.last = this.times.length - 1;
      if (this.lo !== null) this.first = this.frameAtSource(this.lo);
      if (this.hi !== null) this.last = Math.max(this.first, this.boundaryIndex(this.hi) - 1);
      if (this.start !== null) {
        this.inFrame = this.frameAtSource(this.start);
        if (this.stop !== null) this.outFrame = Math.max(this.inFrame, this.boundaryIndex(this.stop) - 1);
      }
      if (this.video.readyState < 1) {
        await new Promise((resolve) => this.video.addEventListener("loadedmetadata", resolve, { once: true }));
      }
      if (this.mode === "window") {
        const a = this.inFrame !== null ? this.inFrame : 0;
        const b = this.outFrame !== null ? this.outFrame : this.times.length - 1;
        this.first = a;
        this.last = b;
        this.loop = true;
        this.stopAt = this.boundaryMedia(b);
        await this.seekFrame(a);
      } else {
        await this.seekFrame(this.inFrame !== null ? this.inFrame : this.first);
        this.writeForm();
      }
      this.el.dataset.ready = "1";
      this.render();
    }

    // ---- frame arithmetic (media = the served file's seconds; source = + offset)
    frameAtMedia(t) {
      return Math.min(this.times.length - 1, Math.max(0, bisectRight(this.times, t + 1e-4) - 1));
    }
    frameAtSource(t) {
      return this.frameAtMedia(t - this.offset);
    }
    boundaryMedia(i) {
      // where frame i stops being on screen
      return i + 1 < this.times.length ? this.times[i + 1] : this.videoEnd - this.offset;
    }
    boundaryIndex(sourceTime) {
      // index j such that the frame boundary before frame j is closest to sourceTime
      const t = sourceTime - this.offset;
      let best = this.times.length;
      let bestDiff = Math.abs(this.videoEnd - this.offset - t);
      for (let j = 1; j < this.times.length; j++) {
        const d = Math.abs(this.times[j] - t);
        if (d < bestDiff) {
          bestDiff = d;
          best = j;
        }
      }
      return best;
    }
    sourceTime(i) {
      return this.times[i] + this.offset;
    }

    seekFrame(i) {
      i = Math.min(this.last, Math.max(this.first, i));
      this.cur = i;
      const a = this.times[i];
      const b = this.boundaryMedia(i);
      const target = (a + b) / 2;
      return new Promise((resolve) => {
        if (Math.abs(this.video.currentTime - target) < 1e-6) {
          this.render();
          resolve();
          return;
        }
        this.video.addEventListener(
          "seeked",
          () => {
            this.render();
            resolve();
          },
          { once: true },
        );
        this.video.currentTime = target;
      });
    }

    watchFrames() {
      if (!("requestVideoFrameCallback" in HTMLVideoElement.prototype)) return;
      const step = (now, meta) => {
        if (this.video.paused) return;
        this.onTime(meta.mediaTime);
        this.video.requestVideoFrameCallback(step);
      };
      this.video.requestVideoFrameCallback(step);
    }

    onTime(t) {
      if (!this.times) return;
      if (!this.video.paused) this.cur = this.frameAtMedia(t);
      const limit = this.stopAt !== null ? this.stopAt : this.boundaryMedia(this.last);
      if (!this.video.paused && t >= limit - 1e-4) {
        if (this.loop) {
          this.video.currentTime = (this.times[this.first] + this.boundaryMedia(this.first)) / 2;
        } else {
          // stop on the window's last frame (preview) or the range's last frame, never one past it
          const show = this.stopFrame !== null ? this.stopFrame : this.last;
          this.video.pause();
          this.stopAt = null;
          this.stopFrame = null;
          this.seekFrame(show);
        }
      }
      this.render();
    }

    async play() {
      if (this.mode === "mark") {
        this.stopAt = null;
        this.stopFrame = null;
      }
      if (this.cur >= this.last) await this.seekFrame(this.first);
      try {
        await this.video.play();
        this.watchFrames();
      } catch (err) {
        if (this.clock) this.clock.textContent = "cannot play: " + err;
      }
    }

    act(name) {
      if (!this.times) return;
      switch (name) {
        case "play":
          if (this.video.paused) this.play();
          else this.video.pause();
          break;
        case "replay":
          this.seekFrame(this.first).then(() => this.play());
          break;
        case "prev":
          this.video.pause();
          this.seekFrame(this.cur - 1);
          break;
        case "next":
          this.video.pause();
          this.seekFrame(this.cur + 1);
          break;
        case "back1s":
          this.video.pause();
          this.seekFrame(this.cur - Math.max(1, Math.round(this.fps)));
          break;
        case "fwd1s":
          this.video.pause();
          this.seekFrame(this.cur + Math.max(1, Math.round(this.fps)));
          break;
        case "in":
          this.inFrame = this.cur;
          if (this.outFrame !== null && this.outFrame < this.inFrame) this.outFrame = null;
          this.writeForm();
          break;
        case "out":
          if (this.inFrame !== null && this.cur < this.inFrame) {
            this.say("The out frame must come after the in frame.");
            return;
          }
          this.outFrame = this.cur;
          this.writeForm();
          break;
        case "preview":
          if (this.inFrame === null || this.outFrame === null) {
            this.say("Set in and out first.");
            return;
          }
          this.video.pause();
          this.seekFrame(this.inFrame).then(() => {
            this.stopAt = this.boundaryMedia(this.outFrame);
            this.stopFrame = this.outFrame;
            this.video.play().then(() => this.watchFrames());
          });
          break;
      }
      this.render();
    }

    say(text) {
      if (this.marksEl) this.marksEl.dataset.message = text;
      this.render();
    }

    writeForm() {
      if (!this.form) return;
      const start = this.form.querySelector("input[name=start]");
      const end = this.form.querySelector("input[name=end]");
      if (start && this.inFrame !== null) start.value = this.sourceTime(this.inFrame).toFixed(6);
      if (end) end.value = this.outFrame !== null ? (this.boundaryMedia(this.outFrame) + this.offset).toFixed(6) : "";
      if (this.marksEl) delete this.marksEl.dataset.message;
    }

    render() {
      if (!this.times) return;
      if (this.clock) this.clock.textContent = "frame " + this.cur + " · " + secs(this.sourceTime(this.cur));
      this.el.dataset.frame = String(this.cur);
      if (!this.marksEl) return;
      const parts = [];
      if (this.inFrame !== null) parts.push("in: frame " + this.inFrame + " (" + secs(this.sourceTime(this.inFrame)) + ")");
      if (this.outFrame !== null) {
        const end = this.boundaryMedia(this.outFrame) + this.offset;
        parts.push("out: frame " + this.outFrame + " (ends " + secs(end) + ")");
        if (this.inFrame !== null) parts.push("length " + secs(end - this.sourceTime(this.inFrame)));
      }
      const msg = this.marksEl.dataset.message;
      this.marksEl.textContent = (parts.join(" · ") || "Mark the window: set in, set out.") + (msg ? " — " + msg : "");
    }
  }

  function keyboard(e) {
    const tag = (e.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select" || e.ctrlKey || e.metaKey || e.altKey) return;
    const p = players.find((x) => x.mode === "mark");
    if (!p) return;
    const map = { " ": "play", ArrowLeft: e.shiftKey ? "back1s" : "prev", ArrowRight: e.shiftKey ? "fwd1s" : "next",
                  i: "in", I: "in", o: "out", O: "out", p: "preview", P: "preview" };
    const act = map[e.key];
    if (act) {
      e.preventDefault();
      p.act(act);
    }
  }

  function pollVideo(el) {
    const id = el.dataset.poll;
    const tick = async () => {
      const r = await fetch("/media/status/" + encodeURIComponent(id), { headers: { Accept: "application/json" } });
      const data = await r.json();
      if (data.status === "ready" || data.status === "failed") {
        window.location.reload();
        return;
      }
      setTimeout(tick, 1000);
    };
    setTimeout(tick, 1000);
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll(".player").forEach((el) => players.push(new Player(el)));
    document.addEventListener("keydown", keyboard);
    document.querySelectorAll("[data-poll]").forEach(pollVideo);
    const shown = Date.now();
    document.querySelectorAll("input[name=seconds]").forEach((input) => {
      input.form.addEventListener("submit", () => {
        input.value = ((Date.now() - shown) / 1000).toFixed(1);
      });
    });
    document.querySelectorAll("[data-copy]").forEach((b) => {
      b.addEventListener("click", () => navigator.clipboard && navigator.clipboard.writeText(b.dataset.copy));
    });
  });
  window.studioPlayers = players;
})();
