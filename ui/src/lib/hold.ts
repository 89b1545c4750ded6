// Keeps what the pointer is on still while the page changes above it (a request arrives, a
// banner appears, an answered card leaves). WebKitGTK has no CSS scroll anchoring, so this does
// it by hand: after every layout change the page scrolls by how far the pointed element moved;
// when the page cannot scroll far enough, a spacer above or below the content takes up the
// difference. When the pointer leaves the window, the page settles into its natural layout.

/** The parts of the page a hold adjusts. */
export interface HoldState {
  /** Pixels the page was scrolled to compensate (undone on release). */
  held: number;
  /** Height of the spacer above the content (stands in for content that left). */
  top: number;
  /** Height of the spacer below the content (room to scroll for content that arrived). */
  bottom: number;
}

/** What the page offers at the moment of a shift. */
export interface Viewport {
  scrollY: number;
  /** How far the page can scroll down from `scrollY` right now. */
  scrollRoom: number;
}

/** How to undo a shift of `moved` pixels (positive: the anchor moved down). */
export interface Compensation {
  scrollBy: number;
  state: HoldState;
}

/** Pure rule: the scroll and spacer changes that bring an anchor that moved by `moved` back. */
export function compensate(moved: number, s: HoldState, v: Viewport): Compensation {
  const next = { ...s };
  let scroll = 0;
  if (moved > 0) {
    // Content arrived above: first give back spacer that stood in for content that left.
    const fromTop = Math.min(next.top, moved);
    next.top -= fromTop;
    const rest = moved - fromTop;
    if (rest > 0) {
      const missing = Math.max(0, rest - v.scrollRoom);
      next.bottom += missing;
      scroll = rest;
    }
  } else if (moved < 0) {
    // Content left above: scroll up as far as the page allows, a spacer takes the rest.
    const up = Math.min(v.scrollY, -moved);
    scroll = -up;
    next.top += -moved - up;
  }
  next.held += scroll;
  return { scrollBy: scroll, state: next };
}

/** Elements worth anchoring on: what a click would hit, or the card around it. */
const ANCHOR = "button, a, input, select, textarea, label, [data-testid='challenge-card'], li";

/** Options of [`LayoutHold`]. */
export interface HoldElements {
  /** The content whose changes are watched. */
  content: HTMLElement;
  /** Spacer above `content`. */
  top: HTMLElement;
  /** Spacer below `content`. */
  bottom: HTMLElement;
}

/** The live hold on a window's content. */
export class LayoutHold {
  private state: HoldState = { held: 0, top: 0, bottom: 0 };
  private anchor: Element | null = null;
  private anchorTop = 0;
  private pointer: { x: number; y: number } | null = null;
  private adjusting = false;
  private readonly stop: (() => void)[] = [];
  /** Called after each compensation for content that arrived (e.g. to offer "new request"). */
  onshift: (() => void) | null = null;

  constructor(private readonly el: HoldElements) {
    const doc = el.content.ownerDocument;
    const win = doc.defaultView;
    const on = <K extends keyof DocumentEventMap>(k: K, f: (e: DocumentEventMap[K]) => void) => {
      doc.addEventListener(k, f, { passive: true, capture: true });
      this.stop.push(() => doc.removeEventListener(k, f, { capture: true }));
    };
    on("pointermove", (e) => this.point(e.clientX, e.clientY, e.target));
    on("mousemove", (e) => this.point(e.clientX, e.clientY, e.target));
    on("scroll", () => {
      if (!this.adjusting) this.remember();
    });
    const leave = (e: MouseEvent) => {
      if (!e.relatedTarget) this.release();
    };
    doc.documentElement.addEventListener("mouseleave", leave);
    this.stop.push(() => doc.documentElement.removeEventListener("mouseleave", leave));
    if (win && "ResizeObserver" in win) {
      const ro = new win.ResizeObserver(() => this.check());
      ro.observe(el.content);
      this.stop.push(() => ro.disconnect());
    }
    if (win && "MutationObserver" in win) {
      const mo = new win.MutationObserver(() => this.check());
      mo.observe(el.content, { childList: true, subtree: true });
      this.stop.push(() => mo.disconnect());
    }
  }

  /** Whether the pointer is in the window (changes above it are compensated). */
  get engaged(): boolean {
    return this.pointer !== null;
  }

  private point(x: number, y: number, target: EventTarget | null) {
    this.pointer = { x, y };
    const t = target instanceof Element ? (target.closest(ANCHOR) ?? target) : null;
    this.anchor = t && this.el.content.contains(t) ? t : null;
    this.remember();
  }

  private remember() {
    if (this.anchor?.isConnected) this.anchorTop = this.anchor.getBoundingClientRect().top;
  }

  /** Brings the anchor back to where it was, if the page moved it. */
  check(): void {
    const a = this.anchor;
    if (!this.pointer || !a) return;
    if (!a.isConnected) {
      // What the pointer was on left: anchor on what is there now.
      this.repick();
      return;
    }
    const moved = a.getBoundingClientRect().top - this.anchorTop;
    if (Math.abs(moved) < 0.5) return;
    const win = this.el.content.ownerDocument.defaultView;
    if (!win) return;
    const root = this.el.content.ownerDocument.scrollingElement ?? this.el.content.ownerDocument.documentElement;
    const room = Math.max(0, root.scrollHeight - win.innerHeight - win.scrollY);
    const c = compensate(moved, this.state, { scrollY: win.scrollY, scrollRoom: room });
    this.adjusting = true;
    this.apply(c.state);
    if (c.scrollBy) {
      const target = win.scrollY + c.scrollBy;
      // A page shorter than the window (min-height fills it) gains no room from the first
      // pixels of spacer: measure and top up until the target is reachable.
      for (let i = 0; i < 3; i++) {
        const deficit = target - (root.scrollHeight - win.innerHeight);
        if (deficit <= 0) break;
        this.apply({ ...this.state, bottom: this.state.bottom + deficit });
      }
      win.scrollTo(0, target);
    }
    this.adjusting = false;
    this.remember();
    if (moved > 0) this.onshift?.();
  }

  private repick() {
    const p = this.pointer;
    const hit = p ? this.el.content.ownerDocument.elementFromPoint(p.x, p.y) : null;
    const t = hit ? (hit.closest(ANCHOR) ?? hit) : null;
    this.anchor = t && this.el.content.contains(t) ? t : null;
    this.remember();
  }

  private apply(s: HoldState) {
    this.state = s;
    // CSSOM, not a style attribute: the window's CSP forbids inline styles.
    this.el.top.style.height = `${s.top}px`;
    this.el.bottom.style.height = `${s.bottom}px`;
  }

  /** The pointer left: let the page take its natural layout again. */
  release(): void {
    this.pointer = null;
    this.anchor = null;
    const held = this.state.held;
    this.apply({ held: 0, top: 0, bottom: 0 });
    if (held) this.el.content.ownerDocument.defaultView?.scrollBy(0, -held);
  }

  /** Stops watching. */
  dispose(): void {
    for (const f of this.stop.splice(0)) f();
  }
}

/** The window's hold, for components that must not scroll the page while it holds. */
export const currentHold: { value: LayoutHold | null } = { value: null };
