"""An HTML document read back for tests: its elements with attributes, its text, the
references it makes to anything outside itself, and the funnel rows of an mdfql report."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

# Attributes that make a browser fetch something (or navigate) when they hold a URL.
_FETCHING = {"src", "href", "xlink:href", "action", "formaction", "srcset", "poster", "data",
             "background", "manifest", "ping", "cite", "longdesc", "codebase"}
_CSS_URL = re.compile(r"url\s*\(|@import", re.IGNORECASE)


@dataclass
class Document(HTMLParser):
    """Parse with `Document.of(text)`."""

    elements: list[tuple[str, dict[str, str | None]]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    step_rows: list[list[float]] = field(default_factory=list)  # data-v cells of <tr data-step>
    _in_step: bool = False  # the last <tr> opened is a step's

    def __post_init__(self) -> None:
        super().__init__(convert_charrefs=True)

    @classmethod
    def of(cls, text: str) -> Document:
        doc = cls()
        doc.feed(text)
        doc.close()
        return doc

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.elements.append((tag, found))
        if tag == "tr":
            self._in_step = "data-step" in found
            if self._in_step:
                self.step_rows.append([])
        elif tag == "td" and self._in_step and found.get("data-v") is not None:
            self.step_rows[-1].append(float(found["data-v"]))  # type: ignore[arg-type]

    def handle_data(self, data: str) -> None:
        self.texts.append(data)

    @property
    def text(self) -> str:
        return "".join(self.texts)

    def tags(self, name: str) -> list[dict[str, str | None]]:
        return [attrs for tag, attrs in self.elements if tag == name]

    def external_references(self) -> list[str]:
        """Every attribute that could fetch a URL and every CSS url()/@import (in <style>
        blocks, style attributes or anywhere in the text)."""
        found = [f"{tag} {name}={value!r}" for tag, attrs in self.elements
                 for name, value in attrs.items() if name.lower() in _FETCHING]
        found += [f"{tag} style={attrs['style']!r}" for tag, attrs in self.elements
                  if attrs.get("style") and _CSS_URL.search(attrs["style"] or "")]
        found += [f"text {m.group(0)!r}" for m in _CSS_URL.finditer(self.text)]
        found += [tag for tag, _ in self.elements
                  if tag in ("link", "iframe", "object", "embed", "img", "base", "frame")]
        return found

    def event_handlers(self) -> list[str]:
        return [f"{tag} {name}" for tag, attrs in self.elements for name in attrs
                if name.lower().startswith("on")]
