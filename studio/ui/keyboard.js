// The studio's keyboard: an on-screen piano, the computer keyboard and Web MIDI play the current sound's notes with
// the Web Audio API, from the samples the server renders for the sound (one int16 block for the whole range, see
// studio/instrument/keyboard.py). Also the page's shortcuts: Space plays/stops player A, Ctrl/Cmd-Z undo,
// Shift-Ctrl/Cmd-Z redo, L loops player A. Keys only act while the focus is not in a text box.
//
// window.synthKeyboard exposes what tests and bench/keyboard_latency.py read: lastStarted {midi, velocity, gain,
// source, eventTime, startTime, contextTime, outputTime}, the armed payload's version and when it was decoded.
(() => {
  if (window.synthKeyboard) return;
  const KEYS = 25;                 // two octaves and the top C (studio.instrument.keyboard.KEYS)
  const RELEASE = 0.03;            // s: a released key fades over this (time constant RELEASE / 3): no click
  const NAMES = ['C', 'C♯', 'D', 'D♯', 'E', 'F', 'F♯', 'G', 'G♯', 'A', 'A♯', 'B'];
  // The usual DAW layout, by physical key (event.code): A W S E D F T G Y H U J K = C … C an octave up.
  const CODES = ['KeyA', 'KeyW', 'KeyS', 'KeyE', 'KeyD', 'KeyF', 'KeyT', 'KeyG', 'KeyY', 'KeyH', 'KeyU', 'KeyJ',
    'KeyK'];
  const LETTERS = CODES.map(c => c.slice(3));
  const noteName = m => NAMES[((m % 12) + 12) % 12] + (Math.floor(m / 12) - 1);

  const kb = window.synthKeyboard = {
    start: 48, pendingFrom: null, count: KEYS, version: null, sampleRate: 0, buffers: [], own: null, hold: false, loop: false,
    armedAt: null, receivedAt: null, decodeMs: null, loads: 0, lastStarted: null, started: [], stopped: [],
    midi: {supported: !!navigator.requestMIDIAccess, connected: false, devices: [], error: null},
    shortcuts: [],
  };
  let ctx = null;
  const voices = new Map();        // midi → {source, gain}
  const heldCodes = new Map();     // computer key code → midi it started
  const pointerNotes = new Map();  // pointer id → midi
  const midiHeld = new Set();      // notes a MIDI device holds down
  let sustain = false;             // MIDI sustain pedal (CC 64)
  const sustained = new Set();

  const root = () => document.getElementById('kb-root');
  const $ = sel => { const r = root(); return r ? r.querySelector(sel) : null; };

  // ---------------------------------------------------------------------------------------------------------
  // Web Audio: one context, created (or resumed) on the first key press, since browsers start audio only on a
  // user gesture.
  function audio() {
    // latencyHint 0: the smallest output buffer the device allows ('interactive' meant 40 ms more in Chromium here;
    // a few buffer sources are little work, so a small buffer does not underrun).
    if (!ctx) ctx = new (window.AudioContext || window.webkitAudioContext)({latencyHint: 0});
    if (ctx.state === 'suspended') ctx.resume();
    return ctx;
  }
  kb.context = () => ctx;

  // The payload: {version, start, count, length, sample_rate, gain, own, name, path}; the samples are the file at
  // path (int16 little-endian, note-major), served by Gradio as a static file.
  const fileUrl = path => {
    const root = ((window.gradio_config && window.gradio_config.root) || (location.origin + location.pathname))
      .replace(/\/$/, '');
    return `${root}/gradio_api/file=${encodeURI(path)}`;
  };
  let wanted = null;
  kb.load = payload => {
    if (!payload || typeof payload !== 'object' || !payload.path) return;
    if (payload.version === wanted) return;  // already armed (or arriving): a change that kept the sound
    kb.receivedAt = performance.now();
    wanted = payload.version;
    fetch(fileUrl(payload.path)).then(r => {
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      return r.arrayBuffer();
    }).then(data => { if (wanted === payload.version) arm(payload, data); }, error => {
      kb.error = String(error);
      if (wanted === payload.version) wanted = null;  // the same payload may be tried again
      setStatus('could not load the keyboard’s notes: change the sound or reload the page');
    });
  };
  function arm(payload, data) {
    const t0 = performance.now();
    const pcm = new Int16Array(data, 0, data.byteLength >> 1);
    const {count, length, sample_rate: rate} = payload;
    // Each note becomes an AudioBuffer when first played, or in the background right after: the payload is armed
    // as soon as its samples are decoded.
    const scale = 1 / 32767 / (payload.gain || 1);
    const buffers = new Array(count).fill(null);
    const convert = n => {
      if (!buffers[n]) {
        const buffer = new AudioBuffer({length: Math.max(1, length), sampleRate: rate, numberOfChannels: 1});
        const data = buffer.getChannelData(0), offset = n * length;
        for (let i = 0; i < length; i++) data[i] = pcm[offset + i] * scale;
        buffers[n] = buffer;
      }
      return buffers[n];
    };
    buffers.get = convert;
    const generation = kb.loads + 1;
    let next = 0;
    const fill = () => {
      if (kb.loads !== generation) return;
      const until = performance.now() + 4;
      while (next < count && performance.now() < until) convert(next++);
      if (next < count) setTimeout(fill, 0);
    };
    setTimeout(fill, 0);
    kb.buffers = buffers; kb.count = count; kb.sampleRate = rate;
    // A payload for another range than the one shown (a sound change crossing an octave shift): its notes play,
    // resampled, until the shown range's own arrive.
    if (kb.pendingFrom != null && payload.start !== kb.start) kb.pendingFrom = payload.start;
    else { kb.start = payload.start; kb.pendingFrom = null; }
    kb.version = payload.version; kb.own = payload.own; kb.name = payload.name;
    kb.decodeMs = performance.now() - t0;
    kb.armedAt = performance.now();
    kb.loads += 1;
    draw();
    setStatus(`ready: ${count} notes of “${payload.name || 'the sound'}”`);
  }

  function play(midi, velocity = 127, source = 'api', eventTime = undefined) {
    if (!kb.buffers.length) { setStatus('the keyboard is still loading the sound…'); return; }
    const c = audio();
    // A note outside the rendered range (a MIDI keyboard's) is the nearest rendered note, resampled.
    const first = kb.pendingFrom != null ? kb.pendingFrom : kb.start;  // the buffers' first note
    const index = Math.min(kb.buffers.length - 1, Math.max(0, midi - first));
    const node = c.createBufferSource();
    node.buffer = kb.buffers.get(index);
    node.playbackRate.value = Math.pow(2, (midi - first - index) / 12);
    const gain = c.createGain();
    const level = Math.pow(Math.max(0, Math.min(127, velocity)) / 127, 2);  // velocity → gain: (v / 127)²
    gain.gain.value = level;
    node.connect(gain).connect(c.destination);
    stop(midi, true);  // the same key again: the old voice fades, the new one starts
    node.start();
    const startTime = performance.now();
    const voice = {node, gain, midi};
    voices.set(midi, voice);
    node.onended = () => { if (voices.get(midi) === voice) { voices.delete(midi); mark(midi, false); } };
    // When the first sample reaches the speakers, on the Web performance clock (Web Audio's own output timestamp).
    let outputTime = null;
    if (c.getOutputTimestamp) {
      const ts = c.getOutputTimestamp();
      if (ts && ts.performanceTime) outputTime = ts.performanceTime + (c.currentTime - ts.contextTime) * 1000
        + (c.outputLatency || 0) * 1000;
    }
    kb.lastStarted = {midi, velocity, gain: level, source, eventTime: eventTime ?? startTime, startTime,
      contextTime: c.currentTime, outputTime, rate: node.playbackRate.value, version: kb.version};
    kb.started.push(kb.lastStarted);
    if (kb.started.length > 200) kb.started.shift();
    mark(midi, true);
  }

  function stop(midi, immediate) {
    const voice = voices.get(midi);
    if (!voice) return;
    voices.delete(midi);
    const t = ctx.currentTime;
    voice.gain.gain.cancelScheduledValues(t);
    voice.gain.gain.setValueAtTime(voice.gain.gain.value, t);
    voice.gain.gain.setTargetAtTime(0, t, RELEASE / 3);
    try { voice.node.stop(t + RELEASE * 3); } catch (e) { /* already stopped */ }
    kb.stopped.push({midi, time: performance.now(), immediate: !!immediate});
    if (kb.stopped.length > 200) kb.stopped.shift();
    mark(midi, false);
  }

  // A key let go: a short release, unless Hold keeps the whole rendered note (or the sustain pedal is down).
  function release(midi) {
    if (kb.hold) return;
    if (sustain) { sustained.add(midi); return; }
    stop(midi, false);
  }
  kb.play = (midi, velocity = 127) => play(midi, velocity, 'api');
  kb.release = release;

  // ---------------------------------------------------------------------------------------------------------
  // The on-screen piano

  function draw() {
    const piano = $('.kb-piano');
    if (!piano) return;
    const whites = [];
    let html = '';
    for (let m = kb.start; m < kb.start + KEYS; m++) {
      const black = [1, 3, 6, 8, 10].includes(m % 12);
      const letter = LETTERS[m - kb.start] || '';
      const own = kb.own != null && Math.round(kb.own) === m;
      const cls = `kb-key ${black ? 'kb-black' : 'kb-white'}${own ? ' kb-own' : ''}${voices.has(m) ? ' kb-down' : ''}`;
      const title = `${noteName(m)} (MIDI ${m})${own ? ' · the sound’s own note' : ''}${letter ? ` · key ${letter}` : ''}`;
      const style = black ? `left:calc(${whites.length} * var(--kb-white) - var(--kb-black) / 2)` : '';
      html += `<div class="${cls}" data-midi="${m}" title="${title}" style="${style}">`
        + `<span class="kb-letter">${letter}</span><span class="kb-name">${black ? NAMES[m % 12] : noteName(m)}</span></div>`;
      if (!black) whites.push(m);
    }
    piano.style.setProperty('--kb-whites', whites.length);
    piano.innerHTML = html;
    const range = $('.kb-range');
    if (range) range.textContent = `${noteName(kb.start)}–${noteName(kb.start + KEYS - 1)}`;
    const own = $('.kb-own-note');
    if (own) {
      if (kb.own == null) own.textContent = '';
      else {
        const m = Math.round(kb.own), where = m < kb.start ? ' (below: press Z)' : m >= kb.start + KEYS ? ' (above: press X)' : '';
        own.textContent = `● the sound’s note: ${noteName(m)}${where}`;
      }
    }
  }

  function mark(midi, down) {
    const key = $(`.kb-key[data-midi="${midi}"]`);
    if (key) key.classList.toggle('kb-down', down);
  }

  function setStatus(text) {
    const s = $('.kb-status');
    if (s) s.textContent = text;
  }

  // A new range (octave shift): the server renders its notes; meanwhile the nearest rendered notes play resampled.
  function shift(octaves) {
    const start = Math.max(0, Math.min(96, kb.start + 12 * octaves));
    if (start === kb.start) return;
    for (const m of [...voices.keys()]) if (!kb.hold) stop(m, false);
    heldCodes.clear();
    const oldStart = kb.start;
    kb.start = start;
    // Until the new range's notes arrive, keys play the old range's nearest notes, resampled.
    if (kb.pendingFrom == null) kb.pendingFrom = oldStart;
    draw();
    requestRange(start);
  }
  kb.shift = shift;

  let rangeCount = 0;
  function requestRange(start) {
    const field = document.querySelector('#keyboard-range textarea, #keyboard-range input');
    if (!field) return false;
    field.value = JSON.stringify([start, ++rangeCount]);
    field.dispatchEvent(new Event('input', {bubbles: true}));
    field.dispatchEvent(new KeyboardEvent('keypress', {key: 'x', bubbles: true}));  // Gradio's textbox fires on keys
    return true;
  }
  kb.requestRange = requestRange;

  // ---------------------------------------------------------------------------------------------------------
  // Pointer (mouse, pen, touch) on the piano: press plays, sliding across keys plays each, letting go releases.

  function keyAt(target) { return target && target.closest ? target.closest('.kb-key') : null; }
  addEventListener('pointerdown', e => {
    const key = keyAt(e.target);
    if (!key || !root() || !root().contains(key)) return;
    e.preventDefault();
    const midi = +key.dataset.midi;
    pointerNotes.set(e.pointerId, midi);
    if (key.releasePointerCapture) try { key.releasePointerCapture(e.pointerId); } catch (err) { /* none */ }
    play(midi, 127, 'pointer', e.timeStamp);
  });
  addEventListener('pointerover', e => {
    if (!pointerNotes.has(e.pointerId)) return;
    const key = keyAt(e.target);
    if (!key || !root().contains(key)) return;
    const midi = +key.dataset.midi, old = pointerNotes.get(e.pointerId);
    if (midi === old) return;
    release(old);
    pointerNotes.set(e.pointerId, midi);
    play(midi, 127, 'pointer', e.timeStamp);
  });
  const pointerUp = e => {
    if (!pointerNotes.has(e.pointerId)) return;
    release(pointerNotes.get(e.pointerId));
    pointerNotes.delete(e.pointerId);
  };
  addEventListener('pointerup', pointerUp);
  addEventListener('pointercancel', pointerUp);

  // ---------------------------------------------------------------------------------------------------------
  // The computer keyboard and the shortcuts, never while the focus is in a text box.

  const TEXT_INPUTS = new Set(['text', 'search', 'email', 'password', 'url', 'tel', 'number', 'date', 'time',
    'datetime-local', 'month', 'week']);
  function typing(el) {
    if (!el || el === document.body) return false;
    if (el.isContentEditable) return true;
    const tag = el.tagName;
    if (tag === 'TEXTAREA' || tag === 'SELECT') return true;
    if (tag === 'INPUT') return TEXT_INPUTS.has((el.type || 'text').toLowerCase());
    return false;
  }
  kb.typing = typing;
  // Space on a control reached with the keyboard (a button, a checkbox, a slider) is that control's own key; one
  // merely clicked with the mouse (no focus ring) does not keep it, so Space after clicking Undo plays A.
  const control = el => el && (/^(BUTTON|INPUT|SELECT|TEXTAREA|A|SUMMARY)$/.test(el.tagName)
    || ['button', 'checkbox', 'slider', 'switch', 'radio', 'tab', 'option'].includes(el.getAttribute && el.getAttribute('role')));
  let pointing = false;  // the focus was last placed by a mouse or touch press, not by Tab
  addEventListener('pointerdown', () => { pointing = true; }, true);
  const ownsSpace = el => control(el) && !pointing;

  function clickButton(id, what) {
    const b = document.getElementById(id);
    if (!b) return false;
    (b.tagName === 'BUTTON' ? b : b.querySelector('button') || b).click();
    kb.shortcuts.push({what, time: performance.now()});
    return true;
  }

  let spaceTaken = false;
  addEventListener('keydown', e => {
    const target = e.target;
    if (e.key === 'Tab') pointing = false;
    if (typing(target) || e.altKey) return;
    const mod = e.ctrlKey || e.metaKey;
    if (mod) {
      if (e.code === 'KeyZ' || e.key === 'z' || e.key === 'Z') {
        e.preventDefault();
        clickButton(e.shiftKey ? 'btn-redo' : 'btn-undo', e.shiftKey ? 'redo' : 'undo');
      } else if (e.code === 'KeyY' && !e.shiftKey) {
        e.preventDefault();
        clickButton('btn-redo', 'redo');
      }
      return;
    }
    if (e.code === 'Space') {
      if (ownsSpace(target)) return;
      e.preventDefault();
      spaceTaken = true;
      if (!e.repeat) togglePlayer();
      return;
    }
    if (e.repeat) { if (CODES.includes(e.code)) e.preventDefault(); return; }
    if (e.code === 'KeyL') { setLoop(!kb.loop); return; }
    if (e.code === 'KeyZ') { shift(-1); return; }
    if (e.code === 'KeyX') { shift(1); return; }
    const offset = CODES.indexOf(e.code);
    if (offset < 0 || e.shiftKey) return;
    e.preventDefault();
    const midi = kb.start + offset;
    if (heldCodes.has(e.code)) return;
    heldCodes.set(e.code, midi);
    play(midi, 127, 'key', e.timeStamp);
  });
  addEventListener('keyup', e => {
    if (e.code === 'Space' && spaceTaken) { spaceTaken = false; e.preventDefault(); return; }  // no button's click
    if (!heldCodes.has(e.code)) return;
    release(heldCodes.get(e.code));
    heldCodes.delete(e.code);
  });
  addEventListener('blur', () => { for (const [code, m] of heldCodes) { release(m); heldCodes.delete(code); } });

  // ---------------------------------------------------------------------------------------------------------
  // Player A: Space plays/stops it, L loops it (Gradio's player has no loop switch on the page: a natural end
  // while looping starts it again; a pause by the user stays a pause).

  const playButton = () => document.querySelector('#audio-a .play-pause-button');
  let userPaused = false;
  function togglePlayer() {
    const b = playButton();
    if (!b) return;
    b.click();
    kb.shortcuts.push({what: 'play', time: performance.now()});
  }
  kb.playerPlaying = () => { const b = playButton(); return !!b && b.getAttribute('aria-label') === 'Pause'; };
  addEventListener('click', e => {
    const b = e.target.closest && e.target.closest('#audio-a .play-pause-button');
    if (b) userPaused = b.getAttribute('aria-label') === 'Pause';
  }, true);
  let lastLabel = null;
  new MutationObserver(() => {
    const b = playButton();
    const label = b ? b.getAttribute('aria-label') : null;
    if (label === lastLabel) return;
    const ended = lastLabel === 'Pause' && label === 'Play';
    lastLabel = label;
    if (ended && kb.loop && !userPaused) { kb.loops = (kb.loops || 0) + 1; setTimeout(() => b.click(), 0); }
    if (label === 'Pause') userPaused = false;
  }).observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ['aria-label']});

  function setLoop(on) {
    kb.loop = on;
    kb.shortcuts.push({what: on ? 'loop on' : 'loop off', time: performance.now()});
    const b = $('.kb-loop');
    if (b) b.setAttribute('aria-pressed', String(on));
  }
  function setHold(on) {
    kb.hold = on;
    const b = $('.kb-hold');
    if (b) b.setAttribute('aria-pressed', String(on));
    if (!on) for (const m of [...voices.keys()]) if (!midiHeld.has(m) && ![...heldCodes.values()].includes(m)
      && ![...pointerNotes.values()].includes(m)) stop(m, false);
  }
  kb.setLoop = setLoop; kb.setHold = setHold;

  // ---------------------------------------------------------------------------------------------------------
  // Web MIDI: note on/off with velocity from every connected input, the sustain pedal, a device indicator.

  function midiMessage(e) {
    const [status, data1, data2] = e.data;
    const kind = status & 0xf0, when = e.timeStamp || performance.now();
    if (kind === 0x90 && data2 > 0) { midiHeld.add(data1); play(data1, data2, 'midi', when); }
    else if (kind === 0x80 || (kind === 0x90 && data2 === 0)) { midiHeld.delete(data1); release(data1); }
    else if (kind === 0xb0 && data1 === 64) {
      sustain = data2 >= 64;
      if (!sustain) { for (const m of sustained) if (!midiHeld.has(m)) stop(m, false); sustained.clear(); }
    }
  }
  function showDevices(access) {
    const names = [];
    for (const input of access.inputs.values()) {
      input.onmidimessage = midiMessage;
      if (input.state !== 'disconnected') names.push(input.name || input.manufacturer || 'MIDI input');
    }
    kb.midi.devices = names;
    kb.midi.connected = true;
    const el = $('.kb-midi');
    if (el) {
      el.textContent = names.length ? `MIDI: ${names.join(', ')}` : 'MIDI: no device connected';
      el.dataset.state = names.length ? 'on' : 'none';
    }
    const button = $('.kb-midi-connect');
    if (button) button.hidden = true;
  }
  function connectMidi() {
    if (!navigator.requestMIDIAccess) return Promise.resolve(false);
    return navigator.requestMIDIAccess({sysex: false}).then(access => {
      kb.midiAccess = access;
      showDevices(access);
      access.onstatechange = () => showDevices(access);
      return true;
    }, error => {
      kb.midi.error = String(error && error.message || error);
      const el = $('.kb-midi');
      if (el) { el.textContent = 'MIDI: access refused by the browser'; el.dataset.state = 'off'; }
      return false;
    });
  }
  kb.connectMidi = connectMidi;
  function midiIntro() {
    const el = $('.kb-midi');
    if (!el) return;
    if (!navigator.requestMIDIAccess) {
      el.textContent = 'MIDI: this browser has no Web MIDI (Chrome, Edge and Opera have it; Firefox asks for '
        + 'permission; Safari has none) — the piano and the computer keys still play';
      el.dataset.state = 'unsupported';
      const button = $('.kb-midi-connect');
      if (button) button.hidden = true;
      return;
    }
    // Connect at once where the permission was given before; otherwise on the button (the browser may ask).
    if (navigator.permissions && navigator.permissions.query) {
      navigator.permissions.query({name: 'midi'}).then(p => { if (p.state === 'granted') connectMidi(); }, () => {});
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // Start: once the panel is on the page, draw it, wire its buttons and ask for the first range's notes.

  let ready = false;
  function setup() {
    if (ready || !root() || !document.querySelector('#keyboard-range textarea, #keyboard-range input')) return false;
    ready = true;
    draw();
    $('.kb-down-octave').addEventListener('click', () => shift(-1));
    $('.kb-up-octave').addEventListener('click', () => shift(1));
    $('.kb-hold').addEventListener('click', () => setHold(!kb.hold));
    $('.kb-loop').addEventListener('click', () => setLoop(!kb.loop));
    $('.kb-midi-connect').addEventListener('click', () => connectMidi());
    // The panel's buttons do not take the focus from a click, so Space and the letters stay the keyboard's.
    for (const b of root().querySelectorAll('button')) b.addEventListener('mousedown', e => e.preventDefault());
    midiIntro();
    setStatus('loading the sound’s notes…');
    requestRange(kb.start);
    // The page may still be wiring its events when this runs: ask again until the first notes arrive.
    let tries = 0;
    const retry = setInterval(() => {
      if (kb.loads || ++tries > 5) clearInterval(retry); else requestRange(kb.start);
    }, 2000);
    return true;
  }
  if (!setup()) {
    const watcher = new MutationObserver(() => { if (setup()) watcher.disconnect(); });
    watcher.observe(document.body, {childList: true, subtree: true});
  }
})();
