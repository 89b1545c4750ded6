"""X11 helpers for the desktop tests: find Assent's window, close it as a window manager would.

Under Xvfb there is no window manager, so nothing turns a click on the title bar's close button
into the WM_DELETE_WINDOW message an application receives. `close_window` sends that message
itself (ICCCM 4.2.8.1), which GTK turns into the same delete-event a real close button gives.
"""

import ctypes
import ctypes.util
import subprocess


def visible_windows(name="Assent"):
    """IDs of mapped X windows titled exactly `name` (xdotool --onlyvisible)."""
    r = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--name", f"^{name}$"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    if r.returncode != 0:
        return []
    return [int(w) for w in r.stdout.split()]


def window_visible(name="Assent"):
    """True when an X window titled `name` is mapped."""
    return bool(visible_windows(name))


class _ClientMessage(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("serial", ctypes.c_ulong),
        ("send_event", ctypes.c_int),
        ("display", ctypes.c_void_p),
        ("window", ctypes.c_ulong),
        ("message_type", ctypes.c_ulong),
        ("format", ctypes.c_int),
        ("data", ctypes.c_long * 5),
    ]


class _Event(ctypes.Union):
    # XEvent is a union padded to 24 longs.
    _fields_ = [("xclient", _ClientMessage), ("pad", ctypes.c_long * 24)]


_CLIENT_MESSAGE = 33


def close_window(name="Assent"):
    """Asks every mapped window titled `name` to close (WM_DELETE_WINDOW); returns how many."""
    windows = visible_windows(name)
    if not windows:
        return 0
    x11 = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XInternAtom.restype = ctypes.c_ulong
    x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    x11.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long,
                               ctypes.POINTER(_Event)]
    x11.XFlush.argtypes = [ctypes.c_void_p]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    display = x11.XOpenDisplay(None)
    if not display:
        raise RuntimeError("cannot open the X display")
    try:
        protocols = x11.XInternAtom(display, b"WM_PROTOCOLS", 0)
        delete = x11.XInternAtom(display, b"WM_DELETE_WINDOW", 0)
        for w in windows:
            ev = _Event()
            ev.xclient.type = _CLIENT_MESSAGE
            ev.xclient.send_event = 1
            ev.xclient.display = display
            ev.xclient.window = w
            ev.xclient.message_type = protocols
            ev.xclient.format = 32
            ev.xclient.data[0] = delete
            ev.xclient.data[1] = 0  # CurrentTime
            x11.XSendEvent(display, w, 0, 0, ctypes.byref(ev))
        x11.XFlush(display)
    finally:
        x11.XCloseDisplay(display)
    return len(windows)
