// The get-ready alert beyond the screen: a short tone (opt-in, off by
// default, remembered in localStorage) made with WebAudio, so no sound file
// is downloaded, and a vibration on phones (navigator.vibrate, where the
// browser has it). Browsers only let a page start audio after a user gesture,
// so the audio context is created or resumed on the player's own clicks and
// keys (the sound toggle, Join), never from a timer.

const KEY = 'clawgate.sound';
const VIBRATION_MS = [200, 100, 200];

export class ReadyAlert {
  private ctx: AudioContext | undefined;
  private enabledNow: boolean;

  constructor(private readonly storage: Storage) {
    this.enabledNow = storage.getItem(KEY) === 'on';
    // Any gesture unlocks audio for a player who turned sound on earlier (a reload starts suspended).
    const unlock = () => { if (this.enabledNow) this.unlock(); };
    document.addEventListener('pointerdown', unlock, { capture: true });
    document.addEventListener('keydown', unlock, { capture: true });
  }

  get enabled(): boolean { return this.enabledNow; }

  /** Called from the toggle's click (a user gesture): turning it on plays one beep, so the player hears what to expect. */
  setEnabled(on: boolean): void {
    this.enabledNow = on;
    this.storage.setItem(KEY, on ? 'on' : 'off');
    if (on) { this.unlock(); this.beep(0, 660); }
  }

  /** The alert itself: two beeps if sound is on, and a vibration wherever the browser can. */
  ring(): void {
    if (this.enabledNow) { this.beep(0, 880); this.beep(0.25, 880); }
    try { navigator.vibrate?.(VIBRATION_MS); } catch { /* not allowed here */ }
  }

  private unlock(): void {
    try {
      this.ctx ??= new AudioContext();
      if (this.ctx.state === 'suspended') void this.ctx.resume();
    } catch { /* no WebAudio: the banner and the title still say it */ }
  }

  private beep(delay: number, hz: number): void {
    const ctx = this.ctx;
    if (!ctx) return;
    const at = ctx.currentTime + delay;
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = 'sine';
    osc.frequency.value = hz;
    // A soft attack and release: no click at either end.
    gain.gain.setValueAtTime(0, at);
    gain.gain.linearRampToValueAtTime(0.2, at + 0.02);
    gain.gain.linearRampToValueAtTime(0, at + 0.16);
    osc.connect(gain).connect(ctx.destination);
    osc.start(at);
    osc.stop(at + 0.18);
  }
}
