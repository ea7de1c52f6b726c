/* The alert sounds of the console and the round, generated with Web Audio, so nothing is
 * fetched. Each kind sounds different, so an operator who is not looking knows what happened:
 *   alarm     a two-tone chime (a new alarm, and its reminder until answered)
 *   critical  a fast, harsh triple beep (fall, fire)
 *   warning   a rising double beep (an alarm has waited 45 s; a look-in is due)
 *   late      a fast two-tone siren (past the answer deadline, or a look-in late)
 *   offline   a low falling tone (the screen is not connected)
 *
 *   ResponsSounds.play(kind)  -> "running" (heard), "suspended" (held back until a click), "none"
 *   ResponsSounds.audio()     the AudioContext (made on first use); context(): it or null
 */
(function () {
  "use strict";

  let context = null;

  function audio() {
    if (!context) context = new (window.AudioContext || window.webkitAudioContext)();
    return context;
  }

  function tone(ctx, at, frequency, duration, type, volume) {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = type;
    osc.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(volume, at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + duration);
    osc.connect(gain).connect(ctx.destination);
    osc.start(at);
    osc.stop(at + duration + 0.05);
  }

  const SOUNDS = {
    alarm: (ctx, t) => { for (let r = 0; r < 2; r++) { tone(ctx, t + r * 0.8, 880, 0.3, "sine", 0.6); tone(ctx, t + r * 0.8 + 0.3, 660, 0.35, "sine", 0.6); } },
    critical: (ctx, t) => { for (let r = 0; r < 2; r++) for (let i = 0; i < 3; i++) tone(ctx, t + r * 0.9 + i * 0.18, 1175, 0.14, "square", 0.5); },
    warning: (ctx, t) => { for (let r = 0; r < 2; r++) { tone(ctx, t + r * 0.5, 740, 0.18, "sawtooth", 0.5); tone(ctx, t + r * 0.5 + 0.2, 1110, 0.22, "sawtooth", 0.5); } },
    late: (ctx, t) => { for (let i = 0; i < 8; i++) tone(ctx, t + i * 0.2, i % 2 ? 900 : 1400, 0.18, "square", 0.6); },
    offline: (ctx, t) => { tone(ctx, t, 440, 0.5, "triangle", 0.6); tone(ctx, t + 0.55, 330, 0.7, "triangle", 0.6); },
  };

  function play(kind) {
    try {
      const ctx = audio();
      if (ctx.state === "suspended") ctx.resume();
      SOUNDS[kind](ctx, ctx.currentTime + 0.05);
      return ctx.state;
    } catch (e) { return "none"; }
  }

  window.ResponsSounds = { play, audio, context: () => context };
})();
