"""Real images and WebDataset shards for the image-source tests, and a local HTTP server (this
machine has no internet) that serves a folder, with slow, failing-then-working and counted paths."""

from __future__ import annotations

import contextlib
import http.server
import io
import json
import socket
import tarfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image

PHOTOS = ("astronaut", "camera", "coffee", "chelsea", "rocket", "coins")
# extension -> Pillow format name
FORMATS = {"jpg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF", "tiff": "TIFF",
           "bmp": "BMP", "ppm": "PPM", "pgm": "PPM"}


def photo(name: str, size: int = 96) -> Image.Image:
    """One of scikit-image's bundled photos, shrunk (a real photo, small enough to be quick)."""
    image = Image.fromarray(np.asarray(getattr(skimage.data, name)()))
    image.thumbnail((size, size))
    return image


def encode(image: Image.Image, ext: str) -> bytes:
    mode = "L" if ext == "pgm" else "RGB"
    out = io.BytesIO()
    image.convert(mode).save(out, FORMATS[ext])
    return out.getvalue()


def write_images(folder: Path) -> dict[str, bytes]:
    """One photo per format (some with upper-case extensions, some in a subfolder), plus files
    that are not images; returns {path: bytes} of the images."""
    written = {}
    for i, ext in enumerate(FORMATS):
        name = PHOTOS[i % len(PHOTOS)]
        sub = folder / "nested" if i % 3 == 2 else folder
        sub.mkdir(parents=True, exist_ok=True)
        path = sub / f"{name}-{i}.{ext.upper() if i % 2 else ext}"
        path.write_bytes(encode(photo(name), ext))
        written[str(path)] = path.read_bytes()
    (folder / "notes.txt").write_text("not an image")
    (folder / "meta.json").write_text("{}")
    return written


def add_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def write_shard(path: Path, start: int, count: int, mode: str = "w") -> list[dict]:
    """A WebDataset shard of `count` samples (jpg photo, txt caption, json metadata); returns
    each sample's {key, jpg, txt, json} as written."""
    samples = []
    with tarfile.open(path, mode) as tar:
        for i in range(start, start + count):
            key = f"part/{i:06d}"
            sample = {"key": key, "jpg": encode(photo(PHOTOS[i % len(PHOTOS)], 48 + i), "jpg"),
                      "txt": f"a photo number {i} — café".encode(),
                      "json": json.dumps({"i": i, "width": 48 + i}).encode()}
            for ext in ("jpg", "txt", "json"):
                add_member(tar, f"{key}.{ext}", sample[ext])
            samples.append(sample)
    return samples


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the folder; /slow/... sleeps first; /flaky/... fails with 503 the first time;
    /missing is 404; counts requests per path and the most in flight at once."""

    requests: Counter = Counter()
    in_flight = 0
    most_in_flight = 0
    lock = threading.Lock()

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        cls = type(self)
        with cls.lock:
            cls.requests[self.path] += 1
            cls.in_flight += 1
            cls.most_in_flight = max(cls.most_in_flight, cls.in_flight)
            first = cls.requests[self.path] == 1
        # In flight until the response starts: a client that gives up on a body (too large)
        # sends its next request while this thread may still be writing the old one.
        waiting = True

        def answered() -> None:
            nonlocal waiting
            if waiting:
                waiting = False
                with cls.lock:
                    cls.in_flight -= 1

        try:
            if self.path.startswith("/slow/"):
                time.sleep(float(self.path.split("/")[2]))
                self.path = "/" + "/".join(self.path.split("/")[3:])
            answered()
            if self.path.startswith("/flaky/"):
                if first:
                    self.send_error(503, "Service Unavailable")
                    return
                self.path = self.path[len("/flaky"):]
            super().do_GET()
        finally:
            answered()


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[tuple[str, type[_Handler]]]:
    """An HTTP server on 127.0.0.1 serving `folder` in a thread: (base URL, handler class with
    its counters, fresh for this server)."""
    handler = type("Handler", (_Handler,), {"requests": Counter(), "in_flight": 0,
                                            "most_in_flight": 0, "lock": threading.Lock()})

    def make(*args, **kwargs):
        return handler(*args, directory=str(folder), **kwargs)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), make)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def closed_port() -> int:
    """A local port nothing listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
